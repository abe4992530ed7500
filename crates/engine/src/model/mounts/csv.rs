//! The one piece of Go's `encoding/csv` the docker CLI's `--mount` parser
//! uses: the first record of a line, with its errors in its words.

/// The first record of Go's `encoding/csv` reader: fields split at `,`, a
/// field in double quotes may hold `,` and `""`; its errors in its words.
pub(super) fn csv_fields(line: &str) -> std::result::Result<Vec<String>, String> {
    let err = |col: usize, what: &str| format!("parse error on line 1, column {col}: {what}");
    let bytes = line.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let mut field = String::new();
        if bytes.get(i) == Some(&b'"') {
            // Quoted: up to a lone closing quote, then `,` or the end.
            let start = i + 1;
            let mut j = start;
            loop {
                match line[j..].find('"') {
                    None => {
                        return Err(err(
                            line.len() + 1,
                            "extraneous or missing \" in quoted-field",
                        ))
                    }
                    Some(q) => {
                        field.push_str(&line[j..j + q]);
                        j += q + 1;
                        if bytes.get(j) == Some(&b'"') {
                            field.push('"');
                            j += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            match bytes.get(j) {
                None | Some(b'\n') => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(b'\r') if bytes.get(j + 1) == Some(&b'\n') || j + 1 == bytes.len() => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(b',') => {
                    fields.push(field);
                    i = j + 1;
                }
                // The column of the closing quote, as Go counts.
                Some(_) => return Err(err(j, "extraneous or missing \" in quoted-field")),
            }
        } else {
            let rest = &line[i..];
            let end = rest.find([',', '\n']).unwrap_or(rest.len());
            let raw = rest[..end].trim_end_matches('\r');
            if let Some(q) = raw.find('"') {
                return Err(err(i + q + 1, "bare \" in non-quoted-field"));
            }
            field.push_str(raw);
            fields.push(field);
            if rest[end..].starts_with(',') {
                i += end + 1;
            } else {
                return Ok(fields);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_quoted_fields() {
        assert_eq!(csv_fields("a=1,b=2").unwrap(), ["a=1", "b=2"]);
        assert_eq!(csv_fields("a,\"b,c\",d").unwrap(), ["a", "b,c", "d"]);
        assert_eq!(csv_fields("\"x\"\"y\"").unwrap(), ["x\"y"]);
        assert_eq!(csv_fields("a,,b,").unwrap(), ["a", "", "b", ""]);
    }

    #[test]
    fn only_the_first_line() {
        assert_eq!(csv_fields("a,b\r\nc").unwrap(), ["a", "b"]);
        assert_eq!(csv_fields("\"a\nb\",c").unwrap(), ["a\nb", "c"]);
    }

    #[test]
    fn quote_errors() {
        assert_eq!(
            csv_fields("ab\"c").unwrap_err(),
            "parse error on line 1, column 3: bare \" in non-quoted-field"
        );
        assert_eq!(
            csv_fields("\"ab").unwrap_err(),
            "parse error on line 1, column 4: extraneous or missing \" in quoted-field"
        );
    }
}
