//! `rename`.

use crate::error::{Error, Result};
use crate::model::{self, Container};
use crate::Engine;

impl Engine {
    /// `rename`: Docker's conflict message when the name is taken, and
    /// its refusal of the same name.
    pub fn rename(&mut self, key: &str, name: &str) -> Result<Container> {
        let c = self.find(key)?;
        if c.name == name.trim_start_matches('/') {
            return Err(Error::BadRequest(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        let name = name.strip_prefix('/').unwrap_or(name);
        model::validate_name(name)?;
        self.db.rename(&c.id, name)?;
        Ok(c)
    }
}
