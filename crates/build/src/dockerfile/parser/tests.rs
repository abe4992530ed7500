use super::*;
use crate::dockerfile::ast::{Command, CopySpec, Healthcheck, Heredoc, RunSpec};

fn ok(text: &str) -> Dockerfile {
    parse(text, "Dockerfile").unwrap_or_else(|e| panic!("{e}"))
}

fn kinds(text: &str) -> Vec<Kind> {
    ok(text).instructions.into_iter().map(|i| i.kind).collect()
}

/// The instruction after `FROM scratch`.
fn second(text: &str) -> Kind {
    kinds(&format!("FROM scratch\n{text}")).remove(1)
}

fn err(text: &str) -> String {
    parse(text, "Dockerfile").unwrap_err().to_string()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn a_small_file() {
    let df = ok("# syntax=docker/dockerfile:1\nARG BASE=alpine\nfrom $BASE AS Build\nRUN echo hi \\\n  && true\nCMD [\"sh\"]\n");
    assert_eq!(df.escape, '\\');
    assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
    let i = &df.instructions;
    assert_eq!(i.len(), 4);
    assert_eq!(
        i[0].kind,
        Kind::Arg(vec![("BASE".into(), Some("alpine".into()))])
    );
    assert_eq!(
        i[1].kind,
        Kind::From {
            image: "$BASE".into(),
            name: Some("build".into()),
            platform: None
        }
    );
    assert_eq!((i[2].line, i[2].end_line), (4, 5));
    assert_eq!(i[2].original, "RUN echo hi   && true");
    assert_eq!(i[2].kind.keyword(), "RUN");
    assert_eq!(i[3].kind, Kind::Cmd(Command::Exec(s(&["sh"]))));
}

#[test]
fn keywords_are_case_insensitive() {
    assert_eq!(second("cmd a"), Kind::Cmd(Command::Shell("a".into())));
    assert_eq!(second("WorkDir /x"), Kind::Workdir("/x".into()));
}

#[test]
fn from_forms_and_errors() {
    assert_eq!(
        kinds("FROM --platform=linux/arm64 a:1 as x-y_z.1")[0],
        Kind::From {
            image: "a:1".into(),
            name: Some("x-y_z.1".into()),
            platform: Some("linux/arm64".into())
        }
    );
    assert_eq!(
        err("FROM"),
        "Dockerfile:1:1: FROM: FROM requires either one or three arguments"
    );
    assert_eq!(
        err("FROM a b"),
        "Dockerfile:1:1: FROM: FROM requires either one or three arguments"
    );
    assert_eq!(
        err("FROM a AS b c"),
        "Dockerfile:1:1: FROM: FROM requires either one or three arguments"
    );
    assert_eq!(
        err("FROM a AS 1x"),
        "Dockerfile:1:11: FROM: invalid name for build stage: \"1x\", name can't start with a number or contain symbols"
    );
    assert_eq!(
        err("  FROM a AS b!"),
        "Dockerfile:1:13: FROM: invalid name for build stage: \"b!\", name can't start with a number or contain symbols"
    );
    assert_eq!(
        err("FROM --platfrom=x a"),
        "Dockerfile:1:6: FROM: unknown flag: --platfrom (did you mean platform?)"
    );
    assert_eq!(
        err("FROM --plat=x a"),
        "Dockerfile:1:6: FROM: unknown flag: --plat"
    );
}

#[test]
fn stage_checks() {
    assert_eq!(
        err("RUN a\nFROM b"),
        "Dockerfile:1:1: RUN: no build stage in current context"
    );
    assert_eq!(
        err("ARG a\n\n  ENV b=c\nFROM x"),
        "Dockerfile:3:3: ENV: no build stage in current context"
    );
    assert_eq!(
        err("ARG a\nARG b"),
        "Dockerfile:1:1: dockerfile contains no stages to build"
    );
    assert_eq!(err(""), "Dockerfile:1:1: file with no instructions");
    assert_eq!(
        err("# only\n# comments\n"),
        "Dockerfile:2:1: file with no instructions"
    );
}

#[test]
fn unknown_instructions() {
    assert_eq!(
        err("FROM a\n\nRUNN x"),
        "Dockerfile:3:1: unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(
        err("FROM a\n  copyy a b"),
        "Dockerfile:2:3: unknown instruction: copyy (did you mean copy?)"
    );
    assert_eq!(
        err("FROM a\nXYZZY x"),
        "Dockerfile:2:1: unknown instruction: XYZZY"
    );
    // Syntax errors on any line come before instruction errors, as in
    // BuildKit's two passes.
    assert_eq!(
        err("FROM a\nRUNN x\nCMD [1]"),
        "Dockerfile:3:1: CMD: when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn directives() {
    let df = ok("# escape=`\nFROM a\nRUN a `\n  b\nCOPY c:\\x d\\\n");
    assert_eq!(df.escape, '`');
    assert_eq!(
        df.instructions[1].kind,
        Kind::Run(run(Command::Shell("a   b".into())))
    );
    assert_eq!(df.instructions[2].original, "COPY c:\\x d\\");
    // After anything else, a directive is a comment.
    let df = ok("FROM a\n# escape=`\nRUN a \\\n b");
    assert_eq!(df.escape, '\\');
    let df = ok("\n# escape=`\nFROM a");
    assert_eq!(df.escape, '\\');
    let df = ok("# check=skip=all\n# Syntax = x\nFROM a");
    assert_eq!(df.syntax.as_deref(), Some("x"));
    assert_eq!(
        err("# escape=`\n# escape=\\\nFROM a"),
        "Dockerfile:2:1: only one escape parser directive can be used"
    );
    assert_eq!(
        err("# escape=x\nFROM a"),
        "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\"
    );
}

fn run(command: Command) -> RunSpec {
    RunSpec {
        command,
        mounts: vec![],
        network: None,
        security: None,
        heredocs: vec![],
    }
}

#[test]
fn run_forms_and_flags() {
    assert_eq!(
        second("RUN [\"a\", \"b\"]"),
        Kind::Run(run(Command::Exec(s(&["a", "b"]))))
    );
    assert_eq!(
        second("RUN [\"a\" \"b\"]"),
        Kind::Run(run(Command::Shell("[\"a\" \"b\"]".into())))
    );
    assert_eq!(
        second("RUN ['a']"),
        Kind::Run(run(Command::Shell("['a']".into())))
    );
    assert_eq!(
        second("RUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t --network=none --security=insecure make"),
        Kind::Run(RunSpec {
            mounts: s(&["type=cache,target=/c", "type=tmpfs,target=/t"]),
            network: Some("none".into()),
            security: Some("insecure".into()),
            ..run(Command::Shell("make".into()))
        })
    );
    assert_eq!(
        err("FROM a\nRUN --network=bridge x"),
        "Dockerfile:2:5: RUN: invalid network mode \"bridge\""
    );
    assert_eq!(
        err("FROM a\nRUN --security=x y"),
        "Dockerfile:2:5: RUN: security \"x\" is not valid"
    );
    assert_eq!(
        err("FROM a\nRUN --mont=x y"),
        "Dockerfile:2:5: RUN: unknown flag: --mont (did you mean mount?)"
    );
    assert_eq!(
        err("FROM a\nRUN --device=/dev/x y"),
        "Dockerfile:2:5: RUN: the --device flag is not supported"
    );
    assert_eq!(
        err("FROM a\nRUN --network x"),
        "Dockerfile:2:5: RUN: missing a value on flag: --network"
    );
}

#[test]
fn run_heredocs() {
    let kind = second("RUN <<EOF\necho $HOME\n  EOF\nEOF\nCMD x");
    let Kind::Run(spec) = kind else { panic!() };
    assert_eq!(spec.command, Command::Shell("<<EOF".into()));
    assert_eq!(
        spec.heredocs,
        vec![Heredoc {
            name: "EOF".into(),
            content: "echo $HOME\n  EOF\n".into(),
            expand: true
        }]
    );
    let df = ok("FROM a\nRUN python3 <<-'PY' && cat <<B > f\n\tprint(1)\n\tPY\nb\nB\nUSER u\n");
    let Kind::Run(spec) = &df.instructions[1].kind else {
        panic!()
    };
    assert_eq!(
        (df.instructions[1].line, df.instructions[1].end_line),
        (2, 6)
    );
    assert_eq!(df.instructions[2].line, 7);
    assert_eq!(spec.heredocs.len(), 2);
    assert_eq!(
        spec.heredocs[0],
        Heredoc {
            name: "PY".into(),
            content: "print(1)\n".into(),
            expand: false
        }
    );
    assert_eq!(
        spec.heredocs[1],
        Heredoc {
            name: "B".into(),
            content: "b\n".into(),
            expand: true
        }
    );
    // Quoted or glued `<<` is no heredoc; nor is a JSON form.
    let df = ok("FROM a\nRUN echo \"<<EOF\" a<<B\nUSER u");
    assert_eq!(df.instructions.len(), 3);
    let df = ok("FROM a\nRUN [\"cat\", \"<<EOF\"]\nUSER u");
    assert_eq!(df.instructions.len(), 3);
    assert_eq!(
        err("FROM a\nRUN <<EOF\nx\n"),
        "Dockerfile:2:1: RUN: unterminated heredoc"
    );
    // Other instructions do not take heredocs.
    assert_eq!(
        second("CMD cat <<EOF"),
        Kind::Cmd(Command::Shell("cat <<EOF".into()))
    );
}

#[test]
fn copy_and_add() {
    assert_eq!(
        second("COPY --from=build --chown=1:2 --chmod=644 --link a b /dst/"),
        Kind::Copy(CopySpec {
            sources: s(&["a", "b"]),
            dest: "/dst/".into(),
            from: Some("build".into()),
            chown: Some("1:2".into()),
            chmod: Some("644".into()),
            link: true,
            ..CopySpec::default()
        })
    );
    assert_eq!(
        second("COPY [\"a b\", \"/c d/\"]"),
        Kind::Copy(CopySpec {
            sources: s(&["a b"]),
            dest: "/c d/".into(),
            ..CopySpec::default()
        })
    );
    assert_eq!(
        second("ADD --checksum=sha256:abc --keep-git-dir=false https://x/y /z"),
        Kind::Add(CopySpec {
            sources: s(&["https://x/y"]),
            dest: "/z".into(),
            checksum: Some("sha256:abc".into()),
            keep_git_dir: Some("false".into()),
            ..CopySpec::default()
        })
    );
    assert_eq!(
        second("COPY <<one <<-\"two\" /dst/\n1 $X\none\n\t2\n\ttwo"),
        Kind::Copy(CopySpec {
            dest: "/dst/".into(),
            heredocs: vec![
                Heredoc {
                    name: "one".into(),
                    content: "1 $X\n".into(),
                    expand: true
                },
                Heredoc {
                    name: "two".into(),
                    content: "2\n".into(),
                    expand: false
                },
            ],
            ..CopySpec::default()
        })
    );
    let two = "requires at least two arguments, but only one was provided. Destination could not be determined";
    assert_eq!(
        err("FROM a\nCOPY a"),
        format!("Dockerfile:2:1: COPY: COPY {two}")
    );
    assert_eq!(
        err("FROM a\nADD"),
        format!("Dockerfile:2:1: ADD: ADD {two}")
    );
    assert_eq!(
        err("FROM a\nCOPY a <<EOF\nx\nEOF"),
        "Dockerfile:2:8: COPY: COPY cannot accept a heredoc as a destination"
    );
    assert_eq!(
        err("FROM a\nCOPY --exclude=*.md . /"),
        "Dockerfile:2:6: COPY: the --exclude flag is not supported"
    );
    assert_eq!(
        err("FROM a\nADD --from=x a b"),
        "Dockerfile:2:5: ADD: unknown flag: --from"
    );
    assert_eq!(
        err("FROM a\nCOPY --chmown=1 a b"),
        "Dockerfile:2:6: COPY: unknown flag: --chmown (did you mean chown?)"
    );
    assert_eq!(
        err("FROM a\nCOPY --link=maybe a b"),
        "Dockerfile:2:6: COPY: expecting boolean value for flag --link, not: maybe"
    );
    assert_eq!(
        err("FROM a\nCOPY --from=a --from=b x y"),
        "Dockerfile:2:15: COPY: duplicate flag specified: --from"
    );
}

#[test]
fn env_label_arg() {
    assert_eq!(
        second("ENV a=1 b=\"x y\" c=d\\ e"),
        Kind::Env(vec![
            ("a".into(), "1".into()),
            ("b".into(), "\"x y\"".into()),
            ("c".into(), "d\\ e".into())
        ])
    );
    assert_eq!(
        second("ENV PATH /a:$PATH  b"),
        Kind::Env(vec![("PATH".into(), "/a:$PATH  b".into())])
    );
    assert_eq!(
        second("LABEL \"com.x\"=\"a b\" v=1"),
        Kind::Label(vec![
            ("\"com.x\"".into(), "\"a b\"".into()),
            ("v".into(), "1".into())
        ])
    );
    assert_eq!(
        second("ARG a b=2 c=\"x y\" d="),
        Kind::Arg(vec![
            ("a".into(), None),
            ("b".into(), Some("2".into())),
            ("c".into(), Some("\"x y\"".into())),
            ("d".into(), Some(String::new()))
        ])
    );
    assert_eq!(
        err("FROM a\nENV PATH"),
        "Dockerfile:2:1: ENV: ENV must have two arguments"
    );
    assert_eq!(
        err("FROM a\nENV"),
        "Dockerfile:2:1: ENV: ENV requires at least one argument"
    );
    assert_eq!(
        err("FROM a\nENV =x"),
        "Dockerfile:2:1: ENV: ENV names can not be blank"
    );
    assert_eq!(
        err("FROM a\nLABEL"),
        "Dockerfile:2:1: LABEL: LABEL requires at least one argument"
    );
    assert_eq!(
        err("FROM a\nLABEL a=b c"),
        "Dockerfile:2:11: LABEL: Syntax error - can't find = in \"c\". Must be of the form: name=value"
    );
    assert_eq!(
        err("FROM a\nENV --x a=b"),
        "Dockerfile:2:5: ENV: unknown flag: --x"
    );
    assert_eq!(
        err("ARG"),
        "Dockerfile:1:1: ARG: ARG requires at least one argument"
    );
    assert_eq!(
        err("ARG a =b"),
        "Dockerfile:1:7: ARG: ARG names can not be blank"
    );
}

#[test]
fn simple_instructions() {
    assert_eq!(
        second("EXPOSE 8080 80/udp $P"),
        Kind::Expose(s(&["$P", "80/udp", "8080"]))
    );
    assert_eq!(second("USER app:app"), Kind::User("app:app".into()));
    assert_eq!(second("WORKDIR /a b"), Kind::Workdir("/a b".into()));
    assert_eq!(
        second("STOPSIGNAL SIGKILL"),
        Kind::StopSignal("SIGKILL".into())
    );
    assert_eq!(
        second("MAINTAINER Jo <j@x>"),
        Kind::Maintainer("Jo <j@x>".into())
    );
    assert_eq!(second("VOLUME /a /b"), Kind::Volume(s(&["/a", "/b"])));
    assert_eq!(
        second("VOLUME [\"/a\", \" /b \"]"),
        Kind::Volume(s(&["/a", "/b"]))
    );
    assert_eq!(
        second("SHELL [\"bash\", \"-c\"]"),
        Kind::Shell(s(&["bash", "-c"]))
    );
    assert_eq!(
        second("ENTRYPOINT"),
        Kind::Entrypoint(Command::Shell(String::new()))
    );
    assert_eq!(second("CMD []"), Kind::Cmd(Command::Exec(vec![])));
    assert_eq!(
        err("FROM a\nUSER"),
        "Dockerfile:2:1: USER: USER requires exactly one argument"
    );
    assert_eq!(
        err("FROM a\nWORKDIR"),
        "Dockerfile:2:1: WORKDIR: WORKDIR requires exactly one argument"
    );
    assert_eq!(
        err("FROM a\nSTOPSIGNAL"),
        "Dockerfile:2:1: STOPSIGNAL: STOPSIGNAL requires exactly one argument"
    );
    assert_eq!(
        err("FROM a\nEXPOSE"),
        "Dockerfile:2:1: EXPOSE: EXPOSE requires at least one argument"
    );
    assert_eq!(
        err("FROM a\nVOLUME"),
        "Dockerfile:2:1: VOLUME: VOLUME requires at least one argument"
    );
    assert_eq!(
        err("FROM a\nVOLUME [\"\"]"),
        "Dockerfile:2:1: VOLUME: VOLUME specified can not be an empty string"
    );
    assert_eq!(
        err("FROM a\nSHELL bash -c"),
        "Dockerfile:2:1: SHELL: SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(
        err("FROM a\nSHELL []"),
        "Dockerfile:2:1: SHELL: SHELL requires at least one argument"
    );
    assert_eq!(
        err("FROM a\nCMD [ \"echo\", [ \"nested json\" ] ]"),
        "Dockerfile:2:1: CMD: when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn healthcheck() {
    assert_eq!(
        second("HEALTHCHECK NONE"),
        Kind::Healthcheck(Healthcheck::None)
    );
    assert_eq!(
        second("HEALTHCHECK --interval=5s --timeout=1m30s --start-period=0 --start-interval=1s --retries=3 CMD curl -f x || exit 1"),
        Kind::Healthcheck(Healthcheck::Check {
            command: Command::Shell("curl -f x || exit 1".into()),
            interval: Some("5s".into()),
            timeout: Some("1m30s".into()),
            start_period: Some("0".into()),
            start_interval: Some("1s".into()),
            retries: Some("3".into()),
        })
    );
    assert_eq!(
        second("healthcheck cmd [\"true\"]"),
        Kind::Healthcheck(Healthcheck::Check {
            command: Command::Exec(s(&["true"])),
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        })
    );
    let e = |line: &str| err(&format!("FROM a\n{line}"));
    assert_eq!(
        e("HEALTHCHECK"),
        "Dockerfile:2:1: HEALTHCHECK: HEALTHCHECK requires at least one argument"
    );
    assert_eq!(
        e("HEALTHCHECK NONE x"),
        "Dockerfile:2:1: HEALTHCHECK: HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(
        e("HEALTHCHECK CMD"),
        "Dockerfile:2:1: HEALTHCHECK: Missing command after HEALTHCHECK CMD"
    );
    assert_eq!(
        e("HEALTHCHECK RUN x"),
        "Dockerfile:2:13: HEALTHCHECK: Unknown type \"RUN\" in HEALTHCHECK (try CMD)"
    );
    assert_eq!(
        e("HEALTHCHECK --interval=5 CMD x"),
        "Dockerfile:2:13: HEALTHCHECK: time: missing unit in duration \"5\""
    );
    assert_eq!(
        e("HEALTHCHECK --timeout=10us CMD x"),
        "Dockerfile:2:13: HEALTHCHECK: Interval \"timeout\" cannot be less than 1ms"
    );
    assert_eq!(
        e("HEALTHCHECK --retries=-1 CMD x"),
        "Dockerfile:2:13: HEALTHCHECK: --retries cannot be negative (-1)"
    );
    assert_eq!(
        e("HEALTHCHECK --retries=x CMD x"),
        "Dockerfile:2:13: HEALTHCHECK: strconv.ParseInt: parsing \"x\": invalid syntax"
    );
}

#[test]
fn onbuild() {
    assert_eq!(second("ONBUILD RUN make"), Kind::Onbuild("RUN make".into()));
    assert_eq!(
        second("  onbuild   COPY . /app"),
        Kind::Onbuild("COPY . /app".into())
    );
    let df = ok("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nUSER u");
    assert_eq!(
        df.instructions[1].kind,
        Kind::Onbuild("RUN <<EOF\necho hi\nEOF".into())
    );
    assert_eq!(df.instructions[2].line, 5);
    let e = |line: &str| err(&format!("FROM a\n{line}"));
    assert_eq!(
        e("ONBUILD ONBUILD RUN x"),
        "Dockerfile:2:1: ONBUILD: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
    assert_eq!(
        e("ONBUILD from x"),
        "Dockerfile:2:9: ONBUILD: FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        e("ONBUILD MAINTAINER x"),
        "Dockerfile:2:9: ONBUILD: MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        e("ONBUILD"),
        "Dockerfile:2:1: ONBUILD: ONBUILD requires at least one argument"
    );
    assert_eq!(
        e("ONBUILD CMD [1]"),
        "Dockerfile:2:1: ONBUILD: when using JSON array syntax, arrays must be comprised of strings only"
    );
}

#[test]
fn continuation_edge_cases() {
    // Comments and blank lines inside a continuation are skipped; a
    // continuation at the end of the file ends the instruction.
    let df = ok("FROM a\nRUN a \\\n# note\n\n    b \\\n");
    assert_eq!(df.instructions[1].original, "RUN a     b ");
    assert_eq!(df.instructions[1].end_line, 5);
    // An escaped escape at the end is no continuation.
    let df = ok("FROM a\nRUN echo \\\\\nUSER u");
    assert_eq!(df.instructions.len(), 3);
    // Windows line ends.
    let df = ok("FROM a\r\nRUN a \\\r\n b\r\n");
    assert_eq!(df.instructions[1].original, "RUN a  b");
}

/// Files from BuildKit's parser test corpus (rewritten), checked for the
/// shape berth needs.
#[test]
fn realistic_files() {
    let df = ok(r#"FROM ubuntu:14.04
LABEL maintainer Seongyeol Lim <seongyeol37@gmail.com>

COPY	.	/go/src/github.com/docker/docker
ADD		.	/
ADD		null /
COPY	nullfile /tmp
ADD		[ "vimrc", "/tmp" ]
COPY	[ "bashrc", "/tmp" ]
COPY	[ "test file", "/tmp" ]
ADD		[ "test file", "/tmp/test file" ]
"#);
    let k: Vec<_> = df.instructions.iter().map(|i| i.kind.clone()).collect();
    assert_eq!(
        k[1],
        Kind::Label(vec![(
            "maintainer".into(),
            "Seongyeol Lim <seongyeol37@gmail.com>".into()
        )])
    );
    let Kind::Copy(c) = &k[2] else { panic!() };
    assert_eq!(
        (c.sources.clone(), c.dest.as_str()),
        (s(&["."]), "/go/src/github.com/docker/docker")
    );
    let Kind::Add(c) = &k[9] else { panic!() };
    assert_eq!(
        (c.sources.clone(), c.dest.as_str()),
        (s(&["test file"]), "/tmp/test file")
    );

    let df = ok(r#"FROM ubuntu
ENV name value
ENV name=value
ENV name=value name2=value2
ENV name="value value1"
ENV name=value\ value2
ENV name="value'quote space'value2"
ENV name='value"double quote"value2'
ENV name=value\ value2 name2=value2\ value3
ENV name="a\"b"
ENV name="a\'b"
ENV name='a\'b'
ENV name='a\'b''
ENV name='a\"b'
ENV name="''"
# don't put anything after the next line - it must be the last line of the
# Dockerfile and it must end with \
ENV name=value \
    name1=value1 \
    name2="value2a \
           value2b" \
    name3="value3a\n\"value3b\"" \
	name4="value4a\\nvalue4b" \
"#);
    let k: Vec<_> = df.instructions.iter().map(|i| i.kind.clone()).collect();
    assert_eq!(k.len(), 16);
    assert_eq!(
        k[5],
        Kind::Env(vec![("name".into(), "value\\ value2".into())])
    );
    assert_eq!(k[12], Kind::Env(vec![("name".into(), "'a\\'b''".into())]));
    let Kind::Env(last) = &k[15] else { panic!() };
    assert_eq!(
        last.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(),
        vec![
            "value",
            "value1",
            "\"value2a            value2b\"",
            "\"value3a\\n\\\"value3b\\\"\"",
            "\"value4a\\\\nvalue4b\""
        ]
    );
}

#[test]
fn columns_point_at_tokens() {
    let e = parse("FROM a\n   COPY --nope=1 a b", "ctx/Dockerfile.dev").unwrap_err();
    assert_eq!(
        (e.line, e.column, e.keyword.as_deref()),
        (2, 9, Some("COPY"))
    );
    assert_eq!(e.file, "ctx/Dockerfile.dev");
    assert_eq!(e.message, "unknown flag: --nope");
    assert_eq!(
        e.to_string(),
        "ctx/Dockerfile.dev:2:9: COPY: unknown flag: --nope"
    );
}
