//! The program builder: register allocation, constants, emission into either section.

use amelie_catalog::Table;
use amelie_common::Value;
use amelie_vm::program::{Bind, Target};
use amelie_vm::{Op, Program, Reg, StmtInfo, TableRef};
use std::sync::atomic::{AtomicBool, Ordering};

/// Request-wide inputs to compilation.
#[derive(Clone, Debug, Default)]
pub struct CompileCtx {
    /// Request start time, µs since the epoch.
    pub now: i64,
    /// Session time zone.
    pub tz_offset: amelie_common::Tz,
    /// Values of `system.*()` functions (folded into constants at compile time).
    pub system: Option<std::sync::Arc<dyn SystemFuncs>>,
}

/// Supplies the values of `system.*()` functions from a catalog/config snapshot.
pub trait SystemFuncs: Send + Sync + std::fmt::Debug {
    /// `None`: no such system function.
    fn call(&self, name: &str, args: &[Value]) -> Option<amelie_common::Result<Value>>;
    /// The number of arguments system function `name` takes (`None`: no such function, or
    /// any number). Checked before the arguments are evaluated.
    fn arity(&self, name: &str) -> Option<usize> {
        let _ = name;
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sec {
    Coordinator,
    Node,
}

pub struct Builder {
    pub p: Program,
    /// Request start time, for values folded at compile time (which makes the program
    /// volatile; run-time reads of the time are the `Bind::Now` parameter).
    pub now: i64,
    /// Set when the program depends on something besides the catalog, the session's time
    /// zone and its baked literals (a `system.*` snapshot or the request time folded into a
    /// constant, ...): it must not be reused for another request.
    pub volatile: AtomicBool,
    /// Compiled subqueries: (the `Select`, statement holding its rows).
    pub subq: Vec<(amelie_parser::Select, u16)>,
    /// CTEs of the request: name, statement holding its rows (None while being compiled)
    /// and column names.
    pub ctes: Vec<(String, Option<u16>, Vec<String>)>,
    /// Nesting of expression subqueries being compiled (they may read shared tables only).
    pub subquery_depth: u32,
    /// See [`CompileCtx::system`].
    pub system: Option<std::sync::Arc<dyn SystemFuncs>>,
    /// Statements whose rows node code being compiled may read (they are complete before
    /// the `Send` that ships them: hoisted uncorrelated subqueries, join sources).
    pub node_sets: Vec<u16>,
    /// The statements node code read since the last `Send` (shipped with the next one).
    pub node_used: Vec<u16>,
    /// Correlated subqueries that node code being compiled evaluates in place.
    pub node_inline: Vec<InlineSub>,
    /// Emits the node code of an entry of `node_inline` (set by the query modules together
    /// with the entries; expression compilation calls it, so it does not depend on them).
    pub inline_emit: InlineEmit,
    /// Aggregate state slots used by inline subqueries so far.
    pub sub_agg_slots: u16,
    /// Set when a 16-bit counter (registers, aggregate slots) would have overflowed; the
    /// request is then refused by [`Builder::check_limits`] before anything runs.
    pub overflow: bool,
}

/// The error for a request needing more registers, statements, tables or other numbered
/// program parts than the 16-bit program format can address.
pub fn too_many() -> amelie_common::Error {
    amelie_common::Error::limit_reached(
        "too many expressions or statements in one request (a program addresses at most 65535 registers and statements)",
    )
}

/// A correlated scalar or EXISTS subquery evaluated in place by node code: a loop over the
/// rows of its source (a shared table fetched first, or a CTE) shipped with the request.
/// Made by `query::subquery`, read by expression compilation.
#[derive(Clone, Debug)]
pub struct InlineSub {
    /// The subquery as written (what expressions refer to).
    pub sel: amelie_parser::Select,
    /// The subquery with the outer references as pseudo columns (see `query::plan::correlate`).
    pub rewritten: amelie_parser::Select,
    /// The source's columns followed by the outer table's pseudo columns.
    pub combined: Table,
    pub alias: Option<String>,
    /// The statement holding the source's rows.
    pub set: u16,
    /// Columns of the source.
    pub inner: u16,
}

/// See [`Builder::inline_emit`]: (builder, the subquery as written, EXISTS?) -> the register
/// holding its value.
pub type InlineEmit = fn(&mut Builder, &amelie_parser::Select, bool) -> amelie_common::Result<Reg>;

fn no_inline(_: &mut Builder, _: &amelie_parser::Select, _: bool) -> amelie_common::Result<Reg> {
    Err(amelie_common::Error::unsupported(
        "subqueries are not supported here",
    ))
}

/// See [`Builder::mark`].
#[derive(Clone, Copy, Debug)]
pub struct Mark([usize; 8]);

impl Builder {
    pub fn new(ctx: &CompileCtx) -> Builder {
        let p = Program {
            tz: ctx.tz_offset,
            ..Program::default()
        };
        Builder {
            p,
            now: ctx.now,
            volatile: AtomicBool::new(false),
            subq: Vec::new(),
            ctes: Vec::new(),
            subquery_depth: 0,
            system: ctx.system.clone(),
            node_sets: Vec::new(),
            node_used: Vec::new(),
            node_inline: Vec::new(),
            inline_emit: no_inline,
            sub_agg_slots: 0,
            overflow: false,
        }
    }

    pub fn code(&mut self, sec: Sec) -> &mut Vec<Op> {
        match sec {
            Sec::Coordinator => &mut self.p.coordinator,
            Sec::Node => &mut self.p.node,
        }
    }

    pub fn emit(&mut self, sec: Sec, op: Op) -> usize {
        let code = self.code(sec);
        code.push(op);
        code.len() - 1
    }

    pub fn pc(&mut self, sec: Sec) -> usize {
        self.code(sec).len()
    }

    /// Copies the values of `regs` into fresh consecutive registers (at least one is
    /// allocated) and returns the first: the operand layout of calls, rows and lists.
    pub fn consecutive(&mut self, sec: Sec, regs: &[Reg]) -> Reg {
        let start = self.regs(sec, (regs.len() as u16).max(1));
        for (i, r) in regs.iter().enumerate() {
            self.emit(
                sec,
                Op::Move {
                    dst: start + i as Reg,
                    src: *r,
                },
            );
        }
        start
    }

    /// Allocates `n` consecutive registers.
    pub fn regs(&mut self, sec: Sec, n: u16) -> Reg {
        let counter = match sec {
            Sec::Coordinator => &mut self.p.coordinator_regs,
            Sec::Node => &mut self.p.node_regs,
        };
        let r = *counter;
        match counter.checked_add(n) {
            Some(next) => {
                *counter = next;
                r
            }
            None => {
                // (the program is refused; register 0 keeps the rest of the compile in range)
                self.overflow = true;
                0
            }
        }
    }

    /// Refuses a program whose counters overflowed or whose numbered parts (statements,
    /// targets, tables, parameters, insert templates) no longer fit their 16-bit indexes.
    /// Checked after every statement, before anything is run (`inserts`: the number of
    /// insert templates so far).
    pub fn check_limits(&self, inserts: usize) -> amelie_common::Result<()> {
        let most = usize::from(u16::MAX);
        if self.overflow
            || self.p.stmts.len() > most
            || self.p.targets.len() > most
            || self.p.tables.len() > most
            || self.p.binds.len() > most
            || inserts > most
            || self.subq.len() > most
        {
            return Err(too_many());
        }
        Ok(())
    }

    pub fn constant(&mut self, v: Value) -> u32 {
        self.p.consts.push(v);
        (self.p.consts.len() - 1) as u32
    }

    pub fn load_const(&mut self, sec: Sec, v: Value) -> Reg {
        let idx = self.constant(v);
        let dst = self.regs(sec, 1);
        self.emit(sec, Op::Const { dst, idx });
        dst
    }

    /// The parameter slot bound by `bind` (one slot per distinct bind).
    pub fn param(&mut self, bind: Bind) -> u16 {
        if let Some(i) = self.p.binds.iter().position(|b| *b == bind) {
            return i as u16;
        }
        self.p.binds.push(bind);
        (self.p.binds.len() - 1) as u16
    }

    /// Loads parameter `bind` into a new register.
    pub fn load_param(&mut self, sec: Sec, bind: Bind) -> Reg {
        let idx = self.param(bind);
        let dst = self.regs(sec, 1);
        self.emit(sec, Op::Param { dst, idx });
        dst
    }

    /// Marks the program as depending on this request alone (see [`Builder::volatile`]).
    pub fn set_volatile(&self) {
        self.volatile.store(true, Ordering::Relaxed);
    }

    /// See [`Builder::volatile`].
    pub fn is_volatile(&self) -> bool {
        self.volatile.load(Ordering::Relaxed)
    }

    pub fn table(&mut self, t: &Table) -> u16 {
        if let Some(i) = self.p.tables.iter().position(|r| r.id == t.id) {
            return i as u16;
        }
        self.p.tables.push(TableRef {
            id: t.id,
            schema: t.schema.clone(),
            name: t.name.clone(),
            columns: t
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.ty, c.not_null))
                .collect(),
            unlogged: t.unlogged,
        });
        (self.p.tables.len() - 1) as u16
    }

    /// The sizes of everything a compile step appends to, for [`Builder::rollback`].
    pub fn mark(&self) -> Mark {
        Mark([
            self.p.coordinator.len(),
            self.p.node.len(),
            self.p.stmts.len(),
            self.p.consts.len(),
            self.p.targets.len(),
            self.p.tables.len(),
            self.subq.len(),
            self.node_used.len(),
        ])
    }

    /// Forgets the subqueries `query::node_subqueries` made readable by node code,
    /// once the statement that reads them is compiled.
    pub fn end_node_subqueries(&mut self, before: (usize, usize)) {
        self.node_sets.truncate(before.0);
        self.node_inline.truncate(before.1);
    }

    /// Undoes whatever was compiled since `m` (registers are not reclaimed).
    pub fn rollback(&mut self, m: Mark) {
        let [c, n, s, k, t, tb, q, u] = m.0;
        self.p.coordinator.truncate(c);
        self.p.node.truncate(n);
        self.p.stmts.truncate(s);
        self.p.consts.truncate(k);
        self.p.targets.truncate(t);
        self.p.tables.truncate(tb);
        self.subq.truncate(q);
        self.node_used.truncate(u);
    }

    /// Records that node code reads the rows of `stmt`.
    pub fn use_set(&mut self, stmt: u16) {
        if !self.node_used.contains(&stmt) {
            self.node_used.push(stmt);
        }
    }

    /// Emits a `Send` of node code at `entry`, shipping the sets that node code reads.
    pub fn send(&mut self, stmt: u16, table: u16, entry: u32, target: u16) -> usize {
        let sets = std::mem::take(&mut self.node_used);
        self.emit(
            Sec::Coordinator,
            Op::Send {
                stmt,
                table,
                entry,
                target,
                sets,
            },
        )
    }

    pub fn target(&mut self, t: Target) -> u16 {
        self.p.targets.push(t);
        (self.p.targets.len() - 1) as u16
    }

    pub fn stmt(&mut self, info: StmtInfo) -> u16 {
        self.p.stmts.push(info);
        (self.p.stmts.len() - 1) as u16
    }

    pub fn finish(mut self) -> Program {
        self.p.coordinator.push(Op::End);
        self.p.index_targets();
        self.p
    }
}
