//! An instruction's `--name=value` flags, checked against the flags it
//! takes (BuildKit's `BFlags`): unknown, repeated, valueless or
//! non-boolean flags are refused in BuildKit's words.

use super::error::Problem;
use super::suggest;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Bool,
    String,
    /// May be repeated.
    Strings,
}

/// The parsed values.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: Vec<(&'static str, Vec<String>)>,
}

impl Flags {
    /// Parses `given` (`--name[=value]` words) against `known`.
    pub fn parse(given: &[String], known: &[(&'static str, Type)]) -> Result<Flags, Problem> {
        let mut flags = Flags::default();
        for arg in given {
            if arg == "--" {
                break;
            }
            let Some(stripped) = arg.strip_prefix("--") else {
                return Err(Problem::at(
                    format!("arg should start with -- : {arg}"),
                    arg,
                ));
            };
            let (name, value) = match stripped.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (stripped, None),
            };
            let flag_name = format!("--{name}");
            let Some(&(known_name, typ)) = known.iter().find(|(k, _)| *k == name) else {
                let names: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
                let mut msg = format!("unknown flag: {flag_name}");
                if let Some(s) = suggest::search(name, &names, true) {
                    msg.push_str(&format!(" (did you mean {s}?)"));
                }
                return Err(Problem::at(msg, arg));
            };
            let seen = flags.values.iter().position(|(k, _)| *k == known_name);
            if seen.is_some() && typ != Type::Strings {
                return Err(Problem::at(
                    format!("duplicate flag specified: {flag_name}"),
                    arg,
                ));
            }
            let value = match (typ, value) {
                (Type::Bool, Some("")) => {
                    return Err(Problem::at(
                        format!("missing a value on flag: {flag_name}"),
                        arg,
                    ))
                }
                (Type::Bool, v) => match v.unwrap_or("").to_ascii_lowercase().as_str() {
                    "true" | "" => "true".to_string(),
                    "false" => "false".to_string(),
                    _ => {
                        return Err(Problem::at(
                            format!(
                                "expecting boolean value for flag {flag_name}, not: {}",
                                v.unwrap_or("")
                            ),
                            arg,
                        ))
                    }
                },
                (_, None) => {
                    return Err(Problem::at(
                        format!("missing a value on flag: {flag_name}"),
                        arg,
                    ))
                }
                (_, Some(v)) => v.to_string(),
            };
            match seen {
                Some(i) => flags.values[i].1.push(value),
                None => flags.values.push((known_name, vec![value])),
            }
        }
        Ok(flags)
    }

    /// A string flag's value, when given.
    pub fn string(&self, name: &str) -> Option<String> {
        self.all(name).last().cloned()
    }

    /// Every value of a repeatable flag.
    pub fn all(&self, name: &str) -> &[String] {
        self.values
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// A boolean flag: false when not given.
    pub fn bool(&self, name: &str) -> bool {
        self.string(name).as_deref() == Some("true")
    }

    pub fn used(&self, name: &str) -> bool {
        !self.all(name).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[(&str, Type)] = &[
        ("from", Type::String),
        ("chown", Type::String),
        ("link", Type::Bool),
        ("mount", Type::Strings),
    ];

    fn parse(args: &[&str]) -> Result<Flags, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Flags::parse(&args, KNOWN).map_err(|p| p.message)
    }

    #[test]
    fn values() {
        let f = parse(&["--from=a", "--link", "--mount=x", "--mount=y"]).unwrap();
        assert_eq!(f.string("from").as_deref(), Some("a"));
        assert!(f.bool("link"));
        assert_eq!(f.all("mount"), ["x", "y"]);
        assert!(!parse(&["--link=FALSE"]).unwrap().bool("link"));
        assert!(parse(&["--link=True"]).unwrap().bool("link"));
        assert_eq!(
            parse(&["--from="]).unwrap().string("from").as_deref(),
            Some("")
        );
        assert!(parse(&["--", "--bogus"]).is_ok());
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(&["--chwon=a"]).unwrap_err(),
            "unknown flag: --chwon (did you mean chown?)"
        );
        assert_eq!(parse(&["--nope"]).unwrap_err(), "unknown flag: --nope");
        assert_eq!(
            parse(&["--from=a", "--from=b"]).unwrap_err(),
            "duplicate flag specified: --from"
        );
        assert_eq!(
            parse(&["--from"]).unwrap_err(),
            "missing a value on flag: --from"
        );
        assert_eq!(
            parse(&["--link="]).unwrap_err(),
            "missing a value on flag: --link"
        );
        assert_eq!(
            parse(&["--link=yes"]).unwrap_err(),
            "expecting boolean value for flag --link, not: yes"
        );
        assert_eq!(parse(&["-x"]).unwrap_err(), "arg should start with -- : -x");
    }
}
