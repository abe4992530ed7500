//! Platforms (os/architecture/variant) and choosing a manifest from an
//! index or manifest list the way Docker does: same os, same normalized
//! architecture, and the requested variant when one was asked for.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        default,
        rename = "os.version",
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl Platform {
    /// The platform this binary runs on.
    pub fn host() -> Platform {
        let (architecture, variant) = normalize_arch(std::env::consts::ARCH, None);
        Platform {
            architecture,
            os: "linux".into(),
            variant,
            os_version: None,
        }
    }

    /// Parses `os/arch[/variant]` (`--platform`).
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(Error::invalid(
                "platform",
                format!("{s:?} is not os/arch[/variant]"),
            ));
        }
        let (architecture, variant) = normalize_arch(parts[1], parts.get(2).copied());
        Ok(Platform {
            architecture,
            os: parts[0].to_lowercase(),
            variant,
            os_version: None,
        })
    }

    /// True when an image for `self` (as written in an index) runs on `want`.
    pub fn satisfies(&self, want: &Platform) -> bool {
        let (arch, variant) = normalize_arch(&self.architecture, self.variant.as_deref());
        if self.os != want.os || arch != want.architecture {
            return false;
        }
        match &want.variant {
            Some(v) => variant.as_deref() == Some(v.as_str()),
            None => true,
        }
    }
}

/// containerd's normalization: x86_64 is amd64, aarch64 is arm64 whose
/// default variant is v8, arm defaults to v7.
fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let arch = arch.to_lowercase();
    let variant = variant.map(str::to_lowercase);
    match arch.as_str() {
        "x86_64" | "x86-64" | "amd64" => ("amd64".into(), variant.filter(|v| v != "v1")),
        "aarch64" | "arm64" => ("arm64".into(), Some(variant.unwrap_or_else(|| "v8".into()))),
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "arm" => ("arm".into(), Some(variant.unwrap_or_else(|| "v7".into()))),
        "i386" | "386" => ("386".into(), variant),
        _ => (arch, variant),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(os: &str, arch: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.into(),
            architecture: arch.into(),
            variant: variant.map(Into::into),
            os_version: None,
        }
    }

    #[test]
    fn matches_like_docker() {
        let want = Platform::parse("linux/arm64").unwrap();
        assert!(p("linux", "arm64", None).satisfies(&want));
        assert!(p("linux", "arm64", Some("v8")).satisfies(&want));
        assert!(!p("linux", "amd64", None).satisfies(&want));
        assert!(!p("windows", "arm64", None).satisfies(&want));
        let v6 = Platform::parse("linux/arm/v6").unwrap();
        assert!(!p("linux", "arm", Some("v7")).satisfies(&v6));
        assert!(p("linux", "arm", Some("v6")).satisfies(&v6));
        assert!(p("linux", "x86_64", None).satisfies(&Platform::parse("linux/amd64").unwrap()));
        assert!(Platform::parse("linux").is_err());
    }
}
