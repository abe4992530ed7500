//! `rename`.

use crate::error::Result;
use crate::model::{self, Container};
use crate::Engine;

impl Engine {
    /// `rename`: Docker's conflict message when the name is taken.
    pub fn rename(&mut self, key: &str, name: &str) -> Result<Container> {
        let c = self.find(key)?;
        let name = name.strip_prefix('/').unwrap_or(name);
        model::validate_name(name)?;
        self.db.rename(&c.id, name)?;
        Ok(c)
    }
}
