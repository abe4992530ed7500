//! Which hierarchy holds each controller of a [`Cgroup`], and in which
//! cgroup version: what `apply`, `stats` and the OOM watcher need to pick
//! their files.
//!
//! On v1 a controller is in the hierarchy whose mount lists it; on v2 every
//! controller is in the one directory. Hybrid hosts mix both: the unified
//! hierarchy usually has no controllers, but a controller that no v1
//! hierarchy has can be there (hugetlb, when the v1 one is not mounted),
//! and is then used with its v2 files.

use std::path::{Path, PathBuf};

use crate::resources::{Controllers, Version};
use crate::{mode, Cgroup, Mode};

impl Cgroup {
    /// What the resource planner needs to know about this host.
    pub(crate) fn host(&self) -> Controllers {
        let v1 = self
            .v1
            .iter()
            .flat_map(|d| d.controllers.iter().cloned())
            .collect();
        Controllers {
            mode: self.mode,
            v1,
            unified: self.unified_controllers(),
        }
    }

    /// Hybrid: the controllers the unified hierarchy's root offers.
    fn unified_controllers(&self) -> Vec<String> {
        match (&self.mode, &self.unified) {
            (Mode::Hybrid, Some(u)) => mode::unified_controllers(&u.mount_point),
            _ => Vec::new(),
        }
    }

    /// The directory and version of `controller` for this cgroup, `None`
    /// when no hierarchy has it.
    pub(crate) fn controller(&self, controller: &str) -> Option<(&Path, Version)> {
        if self.mode == Mode::V2 {
            return self
                .unified
                .as_ref()
                .map(|u| (u.path.as_path(), Version::V2));
        }
        if let Some(d) = self
            .v1
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
        {
            return Some((d.path.as_path(), Version::V1));
        }
        let u = self.unified.as_ref()?;
        self.unified_controllers()
            .iter()
            .any(|c| c == controller)
            .then_some((u.path.as_path(), Version::V2))
    }

    /// The directory holding `controller`'s files, for `apply`.
    pub(crate) fn controller_dir(&self, controller: &str) -> Option<PathBuf> {
        self.controller(controller).map(|(d, _)| d.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use crate::mode::Host;
    use crate::path::CgroupPath;
    use crate::resources::Version;
    use crate::{Cgroup, Mode};

    #[test]
    fn v1_controllers_map_to_their_hierarchy_v2_to_the_one_dir() {
        let mi = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                  41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let layout = Host::from_parts(Mode::Hybrid, mi, "2:cpu,cpuacct:/\n0::/\n").unwrap();
        let cg =
            Cgroup::from_layout(&CgroupPath::parse(Some("/x"), "x").unwrap(), &layout).unwrap();
        let (dir, v) = cg.controller("cpuacct").unwrap();
        assert_eq!(
            (dir.to_str().unwrap(), v),
            ("/sys/fs/cgroup/cpu,cpuacct/x", Version::V1)
        );
        assert_eq!(cg.host().v1, ["cpu", "cpuacct"]);

        let mi = "35 31 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let layout = Host::from_parts(Mode::V2, mi, "0::/\n").unwrap();
        let cg =
            Cgroup::from_layout(&CgroupPath::parse(Some("/x"), "x").unwrap(), &layout).unwrap();
        let (dir, v) = cg.controller("hugetlb").unwrap();
        assert_eq!(
            (dir.to_str().unwrap(), v),
            ("/sys/fs/cgroup/x", Version::V2)
        );
    }
}
