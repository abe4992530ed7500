//! "Did you mean" suggestions for unknown instructions and flags: the
//! nearest candidate within an edit distance of 2, as BuildKit suggests.

/// The nearest of `options` to `value` (distance < 3), in `value`'s case
/// when `case_sensitive` is false; `None` when nothing is near or `value`
/// is itself an option.
pub(crate) fn search(value: &str, options: &[&str], case_sensitive: bool) -> Option<String> {
    let fold = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let val = fold(value);
    let mut best: Option<String> = None;
    let mut min = 3;
    for opt in options {
        let opt = fold(opt);
        if opt == val {
            return None;
        }
        let d = distance(&val, &opt);
        if d < min {
            min = d;
            best = Some(opt);
        }
    }
    let best = best?;
    Some(if case_sensitive {
        best
    } else if value == value.to_lowercase() {
        best.to_lowercase()
    } else if value == value.to_uppercase() {
        best.to_uppercase()
    } else {
        best
    })
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let opts = ["run", "from", "copy", "cmd"];
        assert_eq!(search("RUNN", &opts, false).as_deref(), Some("RUN"));
        assert_eq!(search("fron", &opts, false).as_deref(), Some("from"));
        assert_eq!(search("Coppy", &opts, false).as_deref(), Some("copy"));
        assert_eq!(search("XYZZY", &opts, false), None);
        assert_eq!(search("RUN", &opts, false), None);
        assert_eq!(
            search("chwon", &["chown", "from"], true).as_deref(),
            Some("chown")
        );
    }

    #[test]
    fn distances() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", "abc"), 0);
    }
}
