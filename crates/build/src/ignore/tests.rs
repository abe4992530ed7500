//! Cases from moby/patternmatcher's and ignorefile's tests.

use super::*;

fn one(pattern: &str) -> Ignore {
    Ignore::from_patterns(&[pattern.to_owned()]).unwrap()
}

fn many(patterns: &[&str]) -> Ignore {
    let v: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
    Ignore::from_patterns(&v).unwrap()
}

#[test]
fn matches_table() {
    let cases: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "file/", true),
        ("**/", "file", true),
        ("**/", "file/", true),
        ("**", "/", true),
        ("**/", "/", true),
        ("**", "dir/file", true),
        ("**/", "dir/file", true),
        ("**", "dir/file/", true),
        ("**/", "dir/file/", true),
        ("**/**", "dir/file", true),
        ("**/**", "dir/file/", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/file/", true),
        ("dir/**", "dir/dir2/file", true),
        ("dir/**", "dir/dir2/file/", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/*", "dir/dir2/file/", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file/", true),
        ("**file", "file", true),
        ("**file", "dir/file", true),
        ("**/file", "dir/file", true),
        ("**file", "dir/dir/file", true),
        ("**/file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file", true),
        ("**/file*", "dir/dir/file.txt", true),
        ("**/file*txt", "dir/dir/file.txt", true),
        ("**/file*.txt", "dir/dir/file.txt", true),
        ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("**/**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt", "a/file.txt", true),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[b-d]e", "aae", false),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcdef", false),
        ("abc.def", "abc.def", true),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false),
        ("a\\\\", "a\\", true),
        ("**/foo/bar", "foo/bar", true),
        ("**/foo/bar", "dir/foo/bar", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def", true),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a(b)c/def", "a(b)c/xyz", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        ("a\\*b", "a*b", true),
    ];
    for (pattern, text, want) in cases {
        assert_eq!(
            one(pattern).matches_path(text),
            *want,
            "pattern {pattern:?} text {text:?}"
        );
    }
}

#[test]
fn multi_pattern_table() {
    let cases: &[(&[&str], &str, bool)] = &[
        (&["**", "!util/docker/web"], "util/docker/web/foo", false),
        (
            &["**", "!util/docker/web", "util/docker/web/foo"],
            "util/docker/web/foo",
            true,
        ),
        (
            &[
                "**",
                "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            ],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
        (
            &["**", "!dist/*.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
        (&["*"], "fileutils.go", true),
        (&["*.go"], "fileutils.go", true),
        (&["!fileutils.go", "*.go"], "fileutils.go", true),
        (&["docs", "!docs/README.md"], "docs/README.md", false),
        (&["docs/", "!docs/README.md"], "docs/README.md", false),
        (&["docs/*", "!docs/README.md"], "docs/README.md", false),
        (&["*.go", "!fileutils.go"], "fileutils.go", false),
        (&["docs"], "docs/sub/README.md", true),
    ];
    for (patterns, text, want) in cases {
        assert_eq!(
            many(patterns).excluded(text),
            *want,
            "patterns {patterns:?} text {text:?}"
        );
    }
}

#[test]
fn root_and_no_patterns_never_excluded() {
    assert!(!many(&["*.go"]).excluded("."));
    assert!(!many(&["**"]).excluded(""));
    assert!(!many(&[]).excluded("any/path/there"));
}

#[test]
fn errors() {
    assert!(matches!(Ignore::parse("!\n"), Err(Error::IllegalExclusion)));
    assert!(matches!(Ignore::parse("["), Err(Error::BadPattern(_))));
    assert_eq!(
        Ignore::parse("[").unwrap_err().to_string(),
        "syntax error in pattern: ["
    );
    assert!(matches!(Ignore::parse("a/b["), Err(Error::BadPattern(_))));
}

#[test]
fn file_syntax() {
    // ignorefile's ReadAll: comments, blank lines, leading '/', cleaning,
    // spaces around '!', a BOM, CRLF line ends.
    let ig = Ignore::parse(
        "\u{feff}test1\r\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n ./x/../y/ \n",
    )
    .unwrap();
    assert!(ig.excluded("test1"));
    assert!(ig.excluded("test2"));
    assert!(ig.excluded("test2/inner"));
    assert!(ig.excluded("a/file/here"));
    assert!(ig.excluded("lastfile"));
    assert!(!ig.excluded("# this is a comment"));
    assert!(!ig.excluded("inverted/abs/path"));
    assert!(ig.excluded("y"));
    assert!(!ig.excluded("x"));
    assert!(!ig.excluded("a/file"));
    // A '#' not at the start of the line is part of the pattern.
    let ig = Ignore::parse(" #x\n").unwrap();
    assert!(ig.excluded("#x"));
}

#[test]
fn exceptions_reach_into_excluded_dirs() {
    let ig = Ignore::parse("node_modules\n!node_modules/keep/*.js\n").unwrap();
    assert!(ig.excluded("node_modules"));
    assert!(ig.excluded("node_modules/other/a.js"));
    assert!(!ig.excluded("node_modules/keep/a.js"));
    assert!(ig.may_include_under("node_modules"));
    assert!(ig.may_include_under("node_modules/keep"));
    assert!(!ig.may_include_under("node_modules/other"));
    assert!(!ig.may_include_under("src"));
    let ig = Ignore::parse("*\n!**/*.md\n").unwrap();
    assert!(ig.may_include_under("any/depth"));
    assert!(!ig.excluded("any/depth/x.md"));
    assert!(ig.excluded("any/depth/x.txt"));
    let ig = Ignore::parse("build\n").unwrap();
    assert!(!ig.may_include_under("build"));
}

#[test]
fn classes_and_escapes() {
    let ig = Ignore::parse("log[0-9].txt\nfile\\?\n").unwrap();
    assert!(ig.excluded("log3.txt"));
    assert!(!ig.excluded("logx.txt"));
    assert!(ig.excluded("file?"));
    assert!(!ig.excluded("filex"));
    // '*' stops at '/', '**' does not.
    let ig = Ignore::parse("*/temp*\n").unwrap();
    assert!(ig.excluded("somedir/temporary.txt"));
    assert!(ig.excluded("somedir/temp"));
    assert!(!ig.excluded("somedir/sub/temp"));
    assert!(!ig.excluded("temp"));
    let ig = Ignore::parse("*/*/temp*\ntemp?\n").unwrap();
    assert!(ig.excluded("somedir/subdir/temporary.txt"));
    assert!(ig.excluded("tempa"));
    assert!(!ig.excluded("tempab"));
}
