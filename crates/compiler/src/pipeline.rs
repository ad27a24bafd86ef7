//! Pipelining of independent statements: the `Send`s of consecutive CTEs that do not read
//! each other are moved ahead of the code that merges their replies, so their node work is
//! in flight together (the executor waits for a reply only at the `Recv` that needs it).
//!
//! A statement's coordinator code qualifies when it has exactly one `Send`, everything
//! before that `Send` only resets its own set or loads constants, the `Send` ships no set
//! of the group and is not an `INSERT ... SELECT`, and no jump after the `Send` leads back
//! before it. Nodes still receive the requests in their original order, so writes of an
//! earlier CTE are seen by a later one.

use amelie_vm::program::{Program, Target};
use amelie_vm::Op;

/// One compiled statement: its coordinator code range and its first statement id.
#[derive(Clone, Copy, Debug)]
pub struct Chunk {
    pub start: usize,
    pub end: usize,
    pub first_stmt: u16,
}

/// Index of the single `Send` of a qualifying chunk.
fn send_of(p: &Program, c: &Chunk, group_first_stmt: u16) -> Option<usize> {
    let code = &p.coordinator[c.start..c.end];
    let mut sends = code
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op, Op::Send { .. }));
    let (at, op) = sends.next()?;
    if sends.next().is_some() {
        return None;
    }
    let Op::Send { target, sets, .. } = op else {
        return None;
    };
    if matches!(p.targets.get(*target as usize), Some(Target::Set))
        || sets.iter().any(|s| *s >= group_first_stmt)
    {
        return None;
    }
    if !code[..at]
        .iter()
        .all(|op| matches!(op, Op::SetReset { .. } | Op::Const { .. }))
    {
        return None;
    }
    let lo = (c.start + at + 1) as u32;
    let hi = c.end as u32;
    let inside = |t: u32| (lo..=hi).contains(&t);
    let jumps_ok = code[at + 1..].iter().all(|op| match op {
        Op::Jump { to } | Op::JumpIfNot { to, .. } => inside(*to),
        Op::SetLoop { end, .. } => inside(*end),
        Op::SetNext { body } => inside(*body),
        _ => true,
    });
    jumps_ok.then_some(c.start + at)
}

fn relocate(op: &mut Op, shift: i64) {
    let mv = |t: &mut u32| *t = (*t as i64 + shift) as u32;
    match op {
        Op::Jump { to } | Op::JumpIfNot { to, .. } => mv(to),
        Op::SetLoop { end, .. } => mv(end),
        Op::SetNext { body } => mv(body),
        _ => {}
    }
}

/// Reorders runs of consecutive qualifying chunks (which must be adjacent and in order) as
/// all their prefixes (up to and including the `Send`) followed by all their suffixes.
pub fn pipeline(p: &mut Program, chunks: &[Chunk]) {
    let mut i = 0;
    while i < chunks.len() {
        let first = chunks[i].first_stmt;
        let mut j = i;
        let mut sends = Vec::new();
        while j < chunks.len() {
            if j > i && chunks[j].start != chunks[j - 1].end {
                break;
            }
            match send_of(p, &chunks[j], first) {
                Some(s) => sends.push(s),
                None => break,
            }
            j += 1;
        }
        if sends.len() >= 2 {
            let group = &chunks[i..j];
            let (lo, hi) = (group[0].start, group[group.len() - 1].end);
            let mut prefixes = Vec::new();
            let mut suffixes = Vec::new();
            for (c, &s) in group.iter().zip(&sends) {
                prefixes.extend_from_slice(&p.coordinator[c.start..=s]);
                suffixes.push((s + 1, p.coordinator[s + 1..c.end].to_vec()));
            }
            let mut out = prefixes;
            for (old, mut ops) in suffixes {
                let shift = (lo + out.len()) as i64 - old as i64;
                ops.iter_mut().for_each(|op| relocate(op, shift));
                out.extend(ops);
            }
            debug_assert_eq!(out.len(), hi - lo);
            p.coordinator.splice(lo..hi, out);
        }
        i = j.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_vm::op::Merge;

    fn send(stmt: u16, sets: Vec<u16>) -> Op {
        Op::Send {
            stmt,
            table: 0,
            entry: 0,
            target: 0,
            sets,
        }
    }

    fn recv(stmt: u16) -> Op {
        Op::Recv {
            stmt,
            merge: Merge::Union,
        }
    }

    #[test]
    fn independent_sends_move_ahead_and_jumps_follow() {
        let mut p = Program {
            targets: vec![Target::All],
            coordinator: vec![
                Op::SetReset { stmt: 0 },
                send(0, vec![]),
                recv(0),
                Op::SetReset { stmt: 1 },
                send(1, vec![]),
                recv(1),
                Op::Jump { to: 7 },
                Op::Result { stmt: 1 },
            ],
            ..Program::default()
        };
        let chunks = [
            Chunk {
                start: 0,
                end: 3,
                first_stmt: 0,
            },
            Chunk {
                start: 3,
                end: 7,
                first_stmt: 1,
            },
        ];
        pipeline(&mut p, &chunks);
        assert_eq!(
            p.coordinator,
            vec![
                Op::SetReset { stmt: 0 },
                send(0, vec![]),
                Op::SetReset { stmt: 1 },
                send(1, vec![]),
                recv(0),
                recv(1),
                Op::Jump { to: 7 },
                Op::Result { stmt: 1 },
            ]
        );
    }

    #[test]
    fn a_statement_reading_an_earlier_one_stays_behind_it() {
        let code = vec![
            Op::SetReset { stmt: 0 },
            send(0, vec![]),
            recv(0),
            Op::SetReset { stmt: 1 },
            send(1, vec![0]),
            recv(1),
        ];
        let mut p = Program {
            targets: vec![Target::All],
            coordinator: code.clone(),
            ..Program::default()
        };
        let chunks = [
            Chunk {
                start: 0,
                end: 3,
                first_stmt: 0,
            },
            Chunk {
                start: 3,
                end: 6,
                first_stmt: 1,
            },
        ];
        pipeline(&mut p, &chunks);
        assert_eq!(p.coordinator, code);
    }
}
