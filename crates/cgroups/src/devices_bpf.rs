//! Device rules on cgroup v2: compiling `linux.resources.devices` into an
//! eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE`, and putting it on the
//! cgroup in place of the program there before.
//!
//! cgroup v2 has no `devices.allow`/`devices.deny`: on every open or mknod
//! of a device node, the kernel runs the programs attached to the cgroup and
//! its ancestors with the device's type, numbers and the requested access,
//! and refuses the access with `EPERM` unless all of them return 1.
//!
//! **Semantics.** The rules are ordered and the last one that matches wins,
//! as runc and crun evaluate them (they emit the rules in reverse order and
//! return at the first match), decided for each requested access bit on its
//! own:
//!
//! - a rule matches a device when its type is `a` or the device's (`c` and
//!   `u` are character devices, `b` block ones; `p` is an error) and each of
//!   its major and minor is unset, `-1`, or the device's; a type `a` rule
//!   matches every device whatever its numbers say (as `a *:*` on v1);
//! - for each access bit the kernel asks for (read, write, mknod; `open`
//!   with `O_RDWR` asks for two), the last rule that matches the device and
//!   names that bit decides; no such rule denies;
//! - the access is allowed when every bit it asks for is.
//!
//! So a leading `{"allow": false, "access": "rwm"}` (what every config
//! carries) is the default "deny", `{"allow": true}` a default "allow" that
//! later deny rules cut into, and `allow c 1:3 rw` grants `open(O_RDWR)`
//! but not `mknod`. Deciding per bit means a later `deny c 1:3 w` refuses an
//! `O_RDWR` open (runc's older filter matched a rule only when it covered
//! every requested bit, so such an open fell through to the default) and
//! that `allow … r` plus `allow … w` together grant `O_RDWR`, as v1 does.
//! Where v1 differs, ordered rules win here: v1 lets a later rule change an
//! earlier exception only when both name exactly the same devices (`allow
//! c 1:3` does not cut into a `deny c *:*`), and runc's current filter
//! emulates that. Configs made of a deny-all followed by allow rules, which
//! is what runc's `spec`, Docker, Podman and containerd write, mean the same
//! under every one of these readings.
//!
//! **Replacing.** [`attach`] loads the new program, attaches it next to the
//! old ones (`BPF_F_ALLOW_MULTI`), then detaches the programs that were
//! there before, so the cgroup is never without a filter (for a moment both
//! run, and an access needs both). Programs go away with the cgroup.
//!
//! Not here: skipping the filter when running in a user namespace (runc
//! does, for rules that allow everything); rootless berth does not exist.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use berth_sys::bpf::{self, dev_ctx, op, Insn};
use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::Error;

const LICENSE: &std::ffi::CStr = c"Apache-2.0";

/// The access bits, in the order their checks are emitted.
const ACCESS_BITS: [u32; 3] = [dev_ctx::ACC_MKNOD, dev_ctx::ACC_READ, dev_ctx::ACC_WRITE];

/// Registers of the program: r1 holds the context on entry; the prologue
/// loads the device type, the requested access, major and minor.
const R0: u8 = 0;
const R_CTX: u8 = 1;
const R_TYPE: u8 = 2;
const R_ACCESS: u8 = 3;
const R_MAJOR: u8 = 4;
const R_MINOR: u8 = 5;

/// A compiled device filter, ready to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Program {
    insns: Vec<Insn>,
}

impl Program {
    /// Compiles `rules` (see the module docs for what they mean). Fails on a
    /// rule berth cannot express: type `p`, a negative number other than
    /// `-1`, a number above `i32::MAX` (device numbers have 12 and 20 bits),
    /// an access outside `rwm`.
    pub(crate) fn compile(rules: &[LinuxDeviceCgroup]) -> Result<Program, Error> {
        let rules = rules
            .iter()
            .map(Rule::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let mut asm = Asm::default();
        asm.emit(Insn::load_u32(R_TYPE, R_CTX, dev_ctx::ACCESS_TYPE_OFFSET));
        asm.emit(Insn::and32_imm(R_TYPE, 0xffff));
        asm.emit(Insn::load_u32(R_ACCESS, R_CTX, dev_ctx::ACCESS_TYPE_OFFSET));
        asm.emit(Insn::rsh32_imm(R_ACCESS, 16));
        asm.emit(Insn::load_u32(R_MAJOR, R_CTX, dev_ctx::MAJOR_OFFSET));
        asm.emit(Insn::load_u32(R_MINOR, R_CTX, dev_ctx::MINOR_OFFSET));
        for bit in ACCESS_BITS {
            let next_bit = asm.label();
            // Only when this bit is asked for: `if access & bit` falls
            // through to its checks.
            asm.emit(Insn::jmp_imm(op::JSET, R_ACCESS, bit as i32, 1));
            asm.jump(Insn::ja(0), next_bit);
            let mut decided = false;
            for rule in rules.iter().rev().filter(|r| r.access & bit != 0) {
                let next_rule = asm.label();
                let conditions = [
                    (R_TYPE, rule.typ),
                    (R_MAJOR, rule.major),
                    (R_MINOR, rule.minor),
                ];
                for (reg, want) in conditions {
                    if let Some(want) = want {
                        asm.jump(Insn::jmp_imm(op::JNE, reg, want as i32, 0), next_rule);
                    }
                }
                if rule.allow {
                    asm.jump(Insn::ja(0), next_bit);
                } else {
                    asm.emit(Insn::mov32_imm(R0, 0));
                    asm.emit(Insn::exit());
                }
                if rule.matches_every_device() {
                    // Earlier rules cannot decide this bit: emitting them
                    // would leave code the verifier rejects as unreachable.
                    decided = true;
                    break;
                }
                asm.bind(next_rule);
            }
            if !decided {
                asm.emit(Insn::mov32_imm(R0, 0));
                asm.emit(Insn::exit());
            }
            asm.bind(next_bit);
        }
        asm.emit(Insn::mov32_imm(R0, 1));
        asm.emit(Insn::exit());
        Ok(Program {
            insns: asm.finish()?,
        })
    }
}

/// One OCI rule, checked and reduced to what the program compares.
#[derive(Debug, Clone, Copy)]
struct Rule {
    allow: bool,
    /// `BPF_DEVCG_DEV_*`; `None` for type `a`.
    typ: Option<u32>,
    major: Option<u32>,
    minor: Option<u32>,
    /// `BPF_DEVCG_ACC_*` bits.
    access: u32,
}

impl Rule {
    fn parse(rule: &LinuxDeviceCgroup) -> Result<Rule, Error> {
        let typ = match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(dev_ctx::DEV_BLOCK),
            // unbuffered character devices are character devices to the kernel
            LinuxDeviceType::C | LinuxDeviceType::U => Some(dev_ctx::DEV_CHAR),
            LinuxDeviceType::P => {
                return Err(invalid(
                    "the devices cgroup has no rules for FIFOs (type p)".into(),
                ))
            }
        };
        let number = |n: Option<i64>| match n {
            None | Some(-1) => Ok(None),
            Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as u32)),
            Some(n) => Err(invalid(format!("invalid device number {n}"))),
        };
        let (major, minor) = match typ {
            // `a` is every device, as `a *:*` on v1
            None => (None, None),
            Some(_) => (number(rule.major())?, number(rule.minor())?),
        };
        let access_str = rule
            .access()
            .as_deref()
            .filter(|a| !a.is_empty())
            .unwrap_or("rwm");
        let mut access = 0;
        for c in access_str.chars() {
            access |= match c {
                'r' => dev_ctx::ACC_READ,
                'w' => dev_ctx::ACC_WRITE,
                'm' => dev_ctx::ACC_MKNOD,
                _ => {
                    return Err(invalid(format!(
                        "invalid access {access_str:?}, want a subset of rwm"
                    )))
                }
            };
        }
        Ok(Rule {
            allow: rule.allow(),
            typ,
            major,
            minor,
            access,
        })
    }

    fn matches_every_device(&self) -> bool {
        self.typ.is_none() && self.major.is_none() && self.minor.is_none()
    }
}

fn invalid(reason: String) -> Error {
    Error::InvalidResource {
        field: "devices",
        reason,
    }
}

/// A jump target, bound to an instruction index later.
#[derive(Debug, Clone, Copy)]
struct Label(usize);

/// Collects instructions and resolves forward jumps to labels.
#[derive(Default)]
struct Asm {
    insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    /// (index of a jump instruction, its target)
    jumps: Vec<(usize, Label)>,
}

impl Asm {
    fn emit(&mut self, insn: Insn) {
        self.insns.push(insn);
    }

    fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Emits `insn`, a jump whose offset becomes `target`'s.
    fn jump(&mut self, insn: Insn, target: Label) {
        self.jumps.push((self.insns.len(), target));
        self.insns.push(insn);
    }

    /// Binds `label` to the next instruction emitted.
    fn bind(&mut self, label: Label) {
        self.labels[label.0] = Some(self.insns.len());
    }

    fn finish(mut self) -> Result<Vec<Insn>, Error> {
        for (at, label) in self.jumps {
            let target = self.labels[label.0].expect("every label used is bound");
            // A jump's offset counts from the instruction after it.
            self.insns[at].off = i16::try_from(target as i64 - at as i64 - 1)
                .map_err(|_| invalid("too many rules for one eBPF program".into()))?;
        }
        Ok(self.insns)
    }
}

/// Loads `program` and makes it the cgroup `dir`'s only device filter:
/// attached next to the programs there before, which are then detached
/// (programs of ancestors are not ours and stay).
pub(crate) fn attach(dir: &Path, program: &Program) -> Result<(), Error> {
    let fail = |action: &'static str| {
        move |source: io::Error| Error::DeviceFilter {
            action,
            path: dir.to_path_buf(),
            source,
        }
    };
    let cgroup = File::open(dir).map_err(fail("open the directory"))?;
    let old = bpf::prog_query(cgroup.as_fd()).map_err(fail("list the device programs"))?;
    let new = load(program).map_err(fail("load the device filter"))?;
    bpf::prog_attach(new.as_fd(), cgroup.as_fd(), bpf::F_ALLOW_MULTI)
        .map_err(fail("attach the device filter"))?;
    for id in old {
        let prog = match bpf::prog_get_fd_by_id(id) {
            Ok(fd) => fd,
            // Gone meanwhile.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            // An LSM may hide a program someone else attached (runc hits
            // this under strict SELinux policies). It can only deny more.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
                tracing::debug!(cgroup = %dir.display(), id, error = %e, "leaving a device program we cannot open");
                continue;
            }
            Err(e) => return Err(fail("open an old device program")(e)),
        };
        match bpf::prog_detach(prog.as_fd(), cgroup.as_fd()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(fail("detach an old device program")(e)),
        }
    }
    tracing::debug!(cgroup = %dir.display(), insns = program.insns.len(), "attached the device filter");
    Ok(())
}

/// Loads the program. Kernels before 5.11 charge programs to
/// `RLIMIT_MEMLOCK` and refuse with `EPERM` past it: then the limit is
/// lifted for the one load and put back, so no process started later
/// inherits it.
fn load(program: &Program) -> io::Result<OwnedFd> {
    match bpf::prog_load_cgroup_device(&program.insns, LICENSE) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_MEMLOCK) else {
                return Err(e);
            };
            if setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY).is_err() {
                return Err(e);
            }
            let loaded = bpf::prog_load_cgroup_device(&program.insns, LICENSE);
            if let Err(restore) = setrlimit(Resource::RLIMIT_MEMLOCK, soft, hard) {
                tracing::warn!(error = %restore, "failed to restore RLIMIT_MEMLOCK");
            }
            loaded
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: u32 = dev_ctx::DEV_BLOCK;
    const CHAR: u32 = dev_ctx::DEV_CHAR;
    const M: u32 = dev_ctx::ACC_MKNOD;
    const R: u32 = dev_ctx::ACC_READ;
    const W: u32 = dev_ctx::ACC_WRITE;

    /// Runs the subset of eBPF the compiler emits against one
    /// `bpf_cgroup_dev_ctx`, checking on the way what the verifier would:
    /// registers are read only after being written, jumps stay inside the
    /// program, every instruction is reachable, and it ends with `exit`.
    fn run(insns: &[Insn], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [typ | (access << 16), major, minor];
        let mut regs: [Option<u64>; 11] = [None; 11];
        regs[1] = Some(0); // the context "pointer"
        let mut pc = 0usize;
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps <= insns.len(), "the program loops");
            let i = insns[pc];
            let (dst, src) = (i.dst() as usize, i.src() as usize);
            let get = |r: usize, regs: &[Option<u64>; 11]| {
                regs[r].unwrap_or_else(|| panic!("r{r} read before written at {pc}"))
            };
            let jump = |taken: bool| {
                if taken {
                    pc as i64 + 1 + i64::from(i.off)
                } else {
                    pc as i64 + 1
                }
            };
            let next = match i.code {
                c if c == op::LDX | op::MEM | op::W => {
                    assert_eq!(src, 1, "only the context is read");
                    let off = usize::try_from(i.off).unwrap();
                    assert!(off % 4 == 0 && off < 12, "bad context offset {off}");
                    regs[dst] = Some(u64::from(ctx[off / 4]));
                    pc as i64 + 1
                }
                c if c == op::ALU | op::MOV | op::K => {
                    regs[dst] = Some(u64::from(i.imm as u32));
                    pc as i64 + 1
                }
                c if c == op::ALU | op::MOV | op::X => {
                    regs[dst] = Some(get(src, &regs) & 0xffff_ffff);
                    pc as i64 + 1
                }
                c if c == op::ALU | op::AND | op::K => {
                    regs[dst] = Some((get(dst, &regs) as u32 & i.imm as u32).into());
                    pc as i64 + 1
                }
                c if c == op::ALU | op::RSH | op::K => {
                    regs[dst] = Some(((get(dst, &regs) as u32) >> i.imm).into());
                    pc as i64 + 1
                }
                c if c == op::JMP | op::JA => jump(true),
                c if c == op::JMP | op::JEQ | op::K => jump(get(dst, &regs) == i.imm as i64 as u64),
                c if c == op::JMP | op::JNE | op::K => jump(get(dst, &regs) != i.imm as i64 as u64),
                c if c == op::JMP | op::JSET | op::K => {
                    jump(get(dst, &regs) & i.imm as i64 as u64 != 0)
                }
                c if c == op::JMP | op::EXIT => return get(0, &regs),
                c => panic!("unexpected opcode {c:#x} at {pc}"),
            };
            assert!(
                (0..insns.len() as i64).contains(&next),
                "jump out of the program at {pc}"
            );
            pc = next as usize;
        }
    }

    /// Every instruction can be reached, as the kernel's verifier demands.
    fn assert_all_reachable(insns: &[Insn]) {
        let mut seen = vec![false; insns.len()];
        let mut todo = vec![0usize];
        while let Some(pc) = todo.pop() {
            if std::mem::replace(&mut seen[pc], true) {
                continue;
            }
            let i = insns[pc];
            let target = (pc as i64 + 1 + i64::from(i.off)) as usize;
            match i.code {
                c if c == op::JMP | op::EXIT => {}
                c if c == op::JMP | op::JA => todo.push(target),
                c if c & 0x07 == op::JMP => todo.extend([pc + 1, target]),
                _ => todo.push(pc + 1),
            }
        }
        let unreachable: Vec<usize> = (0..insns.len()).filter(|&i| !seen[i]).collect();
        assert!(
            unreachable.is_empty(),
            "unreachable instructions {unreachable:?}"
        );
        assert_eq!(insns.last().map(|i| i.code), Some(op::JMP | op::EXIT));
    }

    fn compile(json: &str) -> Vec<Insn> {
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
        let insns = Program::compile(&rules).unwrap().insns;
        assert_all_reachable(&insns);
        insns
    }

    #[test]
    fn deny_all_then_allow_one_device() {
        let p = compile(
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]"#,
        );
        assert_eq!(run(&p, CHAR, R, 1, 3), 1);
        assert_eq!(run(&p, CHAR, R | W, 1, 3), 1);
        assert_eq!(run(&p, CHAR, M, 1, 3), 1);
        assert_eq!(run(&p, CHAR, R, 1, 5), 0);
        assert_eq!(run(&p, CHAR, R, 3, 1), 0);
        assert_eq!(run(&p, BLOCK, R, 1, 3), 0);
        assert_eq!(run(&p, BLOCK, R, 8, 0), 0);
    }

    #[test]
    fn wildcard_numbers() {
        let p = compile(
            r#"[{"allow": false},
                {"allow": true, "type": "c", "major": 136, "access": "rw"},
                {"allow": true, "type": "c", "major": -1, "minor": 7, "access": "r"},
                {"allow": true, "type": "b", "access": "m"}]"#,
        );
        assert_eq!(run(&p, CHAR, R | W, 136, 0), 1);
        assert_eq!(run(&p, CHAR, W, 136, 99_999), 1);
        assert_eq!(run(&p, CHAR, M, 136, 0), 0);
        assert_eq!(run(&p, CHAR, R, 4, 7), 1);
        assert_eq!(run(&p, CHAR, W, 4, 7), 0);
        assert_eq!(run(&p, BLOCK, R, 4, 7), 0);
        assert_eq!(run(&p, BLOCK, M, 8, 1), 1);
        assert_eq!(run(&p, BLOCK, M | R, 8, 1), 0);
        assert_eq!(run(&p, CHAR, M, 8, 1), 0);
    }

    #[test]
    fn access_must_be_a_subset() {
        let p =
            compile(r#"[{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]"#);
        assert_eq!(run(&p, CHAR, R, 1, 3), 1);
        assert_eq!(run(&p, CHAR, W, 1, 3), 1);
        assert_eq!(run(&p, CHAR, R | W, 1, 3), 1);
        assert_eq!(run(&p, CHAR, M, 1, 3), 0);
        assert_eq!(run(&p, CHAR, M | R, 1, 3), 0);
        // no rule at all for other devices: denied
        assert_eq!(run(&p, CHAR, R, 1, 5), 0);
    }

    #[test]
    fn the_last_matching_rule_wins() {
        let p = compile(
            r#"[{"allow": false},
                {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "m"},
                {"allow": false, "type": "c", "major": 1, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]"#,
        );
        // 1:3 allowed again after the deny of major 1
        assert_eq!(run(&p, CHAR, R | W | M, 1, 3), 1);
        // 1:5's allow came before the deny of major 1
        assert_eq!(run(&p, CHAR, R, 1, 5), 0);
        let p = compile(
            r#"[{"allow": false},
                {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "m"}]"#,
        );
        assert_eq!(run(&p, CHAR, R | W, 1, 5), 1);
        assert_eq!(run(&p, CHAR, M, 1, 5), 0);
        // a deny of one bit refuses an access asking for it among others
        let p = compile(
            r#"[{"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rw"},
                {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "w"}]"#,
        );
        assert_eq!(run(&p, CHAR, R, 1, 5), 1);
        assert_eq!(run(&p, CHAR, R | W, 1, 5), 0);
        // two allows together grant what each grants
        let p = compile(
            r#"[{"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"},
                {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "w"}]"#,
        );
        assert_eq!(run(&p, CHAR, R | W, 1, 5), 1);
    }

    #[test]
    fn a_wildcard_rule_resets_the_default() {
        // allow all, then cut into it
        let p = compile(
            r#"[{"allow": true, "access": "rwm"},
                {"allow": false, "type": "b", "major": 8, "access": "rw"}]"#,
        );
        assert_eq!(run(&p, BLOCK, R, 8, 0), 0);
        assert_eq!(run(&p, BLOCK, M, 8, 0), 1);
        assert_eq!(run(&p, BLOCK, R, 9, 0), 1);
        assert_eq!(run(&p, CHAR, R | W | M, 1, 1), 1);
        // a later deny-all overrides everything before it
        let p = compile(
            r#"[{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": false, "type": "a", "major": 1, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rw"}]"#,
        );
        assert_eq!(run(&p, CHAR, R, 1, 3), 0);
        assert_eq!(run(&p, CHAR, R, 5, 0), 1);
        // nothing before the reset is emitted
        assert!(p.len() < 30, "{}", p.len());
        // an empty list denies everything
        let p = compile("[]");
        assert_eq!(run(&p, CHAR, R, 1, 3), 0);
        assert_eq!(run(&p, BLOCK, M, 1, 3), 0);
    }

    #[test]
    fn runtime_defaults_allow_the_standard_devices() {
        let p = compile(
            r#"[{"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "access": "m"},
                {"allow": true, "type": "b", "access": "m"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
                {"allow": true, "type": "c", "major": 136, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"}]"#,
        );
        for (major, minor) in [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 1),
            (5, 2),
            (136, 4),
        ] {
            assert_eq!(run(&p, CHAR, R | W, major, minor), 1, "{major}:{minor}");
        }
        assert_eq!(run(&p, BLOCK, M, 8, 0), 1);
        assert_eq!(run(&p, BLOCK, R, 8, 0), 0);
        assert_eq!(run(&p, CHAR, R, 10, 200), 0);
        assert_eq!(run(&p, CHAR, M, 10, 200), 1);
    }

    #[test]
    fn invalid_rules_are_refused() {
        for json in [
            r#"[{"allow": true, "type": "p", "access": "rwm"}]"#,
            r#"[{"allow": true, "type": "c", "access": "rwx"}]"#,
            r#"[{"allow": true, "type": "c", "major": -5, "access": "r"}]"#,
            r#"[{"allow": true, "type": "c", "minor": 4294967296, "access": "r"}]"#,
        ] {
            let rules: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
            let e = Program::compile(&rules).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{json}: {e}");
        }
    }

    /// The kernel's verifier accepts what the compiler emits (root: loading
    /// needs privilege, not cgroup v2).
    #[test]
    fn the_verifier_accepts_compiled_programs() {
        berth_testutil::require_root!();
        let many: Vec<String> = (0..500)
            .map(|i| {
                format!(
                    r#"{{"allow": {}, "type": "b", "major": {i}, "access": "rw"}}"#,
                    i % 3 == 0
                )
            })
            .collect();
        for json in [
            "[]".to_string(),
            r#"[{"allow": true}]"#.to_string(),
            r#"[{"allow": false}]"#.to_string(),
            r#"[{"allow": false}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": true, "type": "c", "major": 136, "access": "rw"},
                {"allow": false, "type": "c", "minor": 3, "access": "m"}]"#
                .to_string(),
            format!("[{}]", many.join(",")),
        ] {
            load(&Program { insns: compile(&json) }).unwrap_or_else(|e| panic!("{json}: {e}"));
        }
    }

    #[test]
    fn errors_name_the_cgroup() {
        let program = Program::compile(&[]).unwrap();
        let e = attach(Path::new("/nonexistent/berth-c1"), &program).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "failed to open the directory for cgroup /nonexistent/berth-c1"
        );
    }

    #[test]
    fn many_rules_fit() {
        let rules: Vec<String> = (0..2000)
            .map(|i| {
                format!(
                    r#"{{"allow": {}, "type": "c", "major": {i}, "minor": {i}, "access": "rw"}}"#,
                    i % 2 == 0
                )
            })
            .collect();
        let p = compile(&format!("[{}]", rules.join(",")));
        assert_eq!(run(&p, CHAR, R | W, 1998, 1998), 1);
        assert_eq!(run(&p, CHAR, R, 1999, 1999), 0);
        assert_eq!(run(&p, CHAR, R, 0, 0), 1);
    }
}
