use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "PWD" => Some("/home".into()),
        "SHELL" => Some("bash".into()),
        "KOREAN" => Some("한국어".into()),
        "NULL" => Some(String::new()),
        "SPACE" => Some("abc  def".into()),
        "LEADING" => Some("  ab c".into()),
        "TRAILING" => Some("ab c   ".into()),
        "FILE" => Some("/usr/src/app.tar.gz".into()),
        _ => None,
    }
}

/// `input | expected` (or `error`), in BuildKit's lexer table's spirit.
const WORD_CASES: &str = r#"
hello                    | hello
he'll'o                  | hello
he'llo                   | error
he\'llo                  | he'llo
he\\'llo                 | error
abc\tdef                 | abctdef
"abc\tdef"               | abc\tdef
"abc\\tdef"              | abc\tdef
'abc\tdef'               | abc\tdef
hello\                   | hello
hello\\                  | hello\
"hello                   | error
"hello\"                 | error
"hel'lo"                 | hel'lo
'hello                   | error
'hello\'                 | hello\
'hello\there'            | hello\there
"''"                     | ''
$.                       | $.
he$1x                    | hex
he$.x                    | he$.x
he$pwd.                  | he.
he$PWD                   | he/home
he\$PWD                  | he$PWD
he\\$PWD                 | he\/home
"he\$PWD"                | he$PWD
"he\\$PWD"               | he\/home
\${}                     | ${}
he\${}xx                 | he${}xx
${}                      | error
he${}xx                  | error
he${hi}xx                | hexx
he${PWD}                 | he/home
he${.}                   | error
he${XXX:-000}xx          | he000xx
he${PWD:-000}xx          | he/homexx
he${XXX:-$PWD}xx         | he/homexx
he${XXX:-${PWD:-yyy}}xx  | he/homexx
he${XXX:-${YYY:-yyy}}xx  | heyyyxx
he${XXX:YYY}             | error
he${XXX?}                | error
he${XXX:?}               | error
he${PWD?}                | he/home
he${PWD:?}               | he/home
he${NULL?}               | he
he${NULL:?}              | error
he${NULL-x}              | he
he${NULL:-x}             | hex
he${NULL+x}              | hex
he${NULL:+x}             | he
he${XXX:+${PWD}}xx       | hexx
he${PWD:+${XXX}}xx       | hexx
he${PWD:+${SHELL}}xx     | hebashxx
he${XXX:+000}xx          | hexx
he${PWD:+000}xx          | he000xx
'he${XX}'                | he${XX}
"he${PWD}"               | he/home
"he'$PWD'"               | he'/home'
'$PWD'                   | $PWD
'"hello"'                | "hello"
he${PWD                  | error
he${PWD:=000}xx          | error
he${PWD:+${PWD}:}xx      | he/home:xx
he${XXX:-\$PWD:}xx       | he$PWD:xx
he${XXX:-\${PWD}z}xx     | he${PWDz}xx
안녕${PWD:+${SHELL}}xx     | 안녕bashxx
$KOREAN                  | 한국어
안녕\'하세요               | 안녕'하세요
${{aaa}                  | error
${aaa}}                  | }
${aaa                    | error
${aaa:-bbb}}             | bbb}
${aaa:-bbb               | error
${aaa:-${bbb:-ccc}}      | ccc
${aaa:-bbb ${foo}        | error
${aaa:-bbb {foo}         | bbb {foo
${:}                     | error
${:-bbb}                 | error
${999:-bbb}aaa           | bbbaaa
$001aaa                  | aaa
$@@@                     | @@
${@:-bbb}aaa             | bbbaaa
${#:+bbb}                |
${$:-bbb}                | bbb
${FILE#*/}               | usr/src/app.tar.gz
${FILE##*/}              | app.tar.gz
${FILE%.*}               | /usr/src/app.tar
${FILE%%.*}              | /usr/src/app
${FILE:#x}               | error
${FILE/src/lib}          | /usr/lib/app.tar.gz
${FILE//\//_}            | _usr_src_app.tar.gz
${FILE/x}                | error
${FILE#\x}               | error
${PWD^^}                 | error
"#;

fn table(cases: &str) -> impl Iterator<Item = (&str, &str)> {
    cases.lines().filter(|l| !l.trim().is_empty()).map(|l| {
        let (input, expected) = l.split_once('|').expect("a | in each case");
        (input.trim(), expected.trim())
    })
}

#[test]
fn word_table() {
    for (input, expected) in table(WORD_CASES) {
        let got = word(input, '\\', &env);
        if expected == "error" {
            assert!(got.is_err(), "{input:?} gave {got:?}, want an error");
        } else {
            assert_eq!(got.as_deref(), Ok(expected), "input {input:?}");
        }
    }
}

/// `input | words joined by commas`.
const WORDS_CASES: &str = r#"
hello                 | hello
hello${hi}bye         | hellobye
hello${SPACE}bye      | helloabc,defbye
hello"${SPACE}"bye    | helloabc  defbye
hello "${SPACE}"bye   | hello,abc  defbye
hello${LEADING}def    | hello,ab,cdef
hello"${LEADING}" def | hello  ab c,def
hello${LEADING}       | hello,ab,c
hello${TRAILING}      | helloab,c
hello${TRAILING}d     | helloab,c,d
hello"${TRAILING}"d   | helloab c   d
hello there           | hello,there
hello\ there          | hello there
hello" there          | error
hello\" there         | hello",there
hello"\\there"        | hello\there
hello"\there"         | hello\there
hello'\\there'        | hello\\there
hello'$there'         | hello$there
a '' b                | a,b
"#;

#[test]
fn words_table() {
    for (input, expected) in table(WORDS_CASES) {
        let got = words(input, '\\', &env);
        if expected == "error" {
            assert!(got.is_err(), "{input:?} gave {got:?}, want an error");
        } else {
            assert_eq!(
                got.map(|w| w.join(",")).as_deref(),
                Ok(expected),
                "input {input:?}"
            );
        }
    }
}

#[test]
fn trailing_spaces_are_kept_in_quotes() {
    assert_eq!(
        words(r#"hel"lo${TRAILING}""#, '\\', &env).unwrap(),
        vec!["helloab c   "]
    );
    assert_eq!(
        words(r#"hello" there  ""#, '\\', &env).unwrap(),
        vec!["hello there  "]
    );
}

#[test]
fn backtick_escape() {
    assert_eq!(word("a`$PWD", '`', &env).unwrap(), "a$PWD");
    assert_eq!(word(r"C:\dir\$PWD", '`', &env).unwrap(), r"C:\dir\/home");
    assert_eq!(word("\"a`\"b\"", '`', &env).unwrap(), "a\"b");
}

#[test]
fn error_messages() {
    let msg = |s: &str| word(s, '\\', &env).unwrap_err().to_string();
    assert_eq!(
        msg("${VAR:?}"),
        r#"failed to process "${VAR:?}": VAR: is not allowed to be unset"#
    );
    assert_eq!(
        msg("${NULL:?}"),
        r#"failed to process "${NULL:?}": NULL: is not allowed to be empty"#
    );
    assert_eq!(
        msg("${VAR?need it $PWD}"),
        r#"failed to process "${VAR?need it $PWD}": VAR: need it /home"#
    );
    assert_eq!(
        msg("${}"),
        r#"failed to process "${}": syntax error: bad substitution"#
    );
    assert_eq!(
        msg("${a"),
        r#"failed to process "${a": syntax error: missing '}'"#
    );
    assert_eq!(
        msg("${a:-b"),
        r#"failed to process "${a:-b": syntax error: missing '}'"#
    );
    assert_eq!(
        msg("${a:=b}"),
        r#"failed to process "${a:=b}": unsupported modifier (:=) in substitution"#
    );
    assert_eq!(
        msg("${a^b}"),
        r#"failed to process "${a^b}": unsupported modifier (^) in substitution"#
    );
    assert_eq!(
        msg("${a:#b}"),
        r#"failed to process "${a:#b}": unsupported modifier (:#) in substitution"#
    );
    assert_eq!(
        msg("'abc"),
        r#"failed to process "'abc": unexpected end of statement while looking for matching single-quote"#
    );
    assert_eq!(
        msg("\"abc"),
        r#"failed to process "\"abc": unexpected end of statement while looking for matching double-quote"#
    );
    assert_eq!(
        msg("${a/b"),
        r#"failed to process "${a/b": syntax error: missing '/' in ${}"#
    );
    assert_eq!(
        msg(r"${FILE#\x}"),
        r#"failed to process "${FILE#\\x}": invalid pattern (\x) in substitution: invalid escape '\x'"#
    );
}

#[test]
fn mandatory_message_is_expanded() {
    let vars = |n: &str| match n {
        "ARG" => Some("x".to_string()),
        "VAR" => Some(String::new()),
        _ => None,
    };
    let err = word("${VAR:?message here$ARG}", '\\', &vars).unwrap_err();
    assert_eq!(err.message, "VAR: message herex");
    assert_eq!(word("${VAR?message here$ARG}", '\\', &vars).unwrap(), "");
}

#[test]
fn heredoc_bodies() {
    assert_eq!(
        heredoc("echo \"$PWD\" '$SHELL'\n", &env).unwrap(),
        "echo \"/home\" 'bash'\n"
    );
    assert_eq!(heredoc("a \\$PWD ${X:-d}\n", &env).unwrap(), "a $PWD d\n");
    assert_eq!(
        heredoc("unterminated \"quote\n", &env).unwrap(),
        "unterminated \"quote\n"
    );
    assert!(heredoc("${X:?}", &env).is_err());
}

#[test]
fn raw_modes_keep_quotes_and_unset_variables() {
    let mode = Mode {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset: true,
        ..Mode::default()
    };
    let got = words_with(
        r#"RUN cat <<"EOF" a\ b '$X' ${Y:-z} $Z"#,
        '\\',
        mode,
        &no_env,
    )
    .unwrap();
    assert_eq!(
        got,
        vec!["RUN", "cat", "<<\"EOF\"", "a\\ b", "'$X'", "${Y:-z}", "$Z"]
    );
    let got = words_with("<< EOF x", '\\', mode, &no_env).unwrap();
    assert_eq!(got, vec!["<< EOF", "x"]);
}
