//! The register VM: instruction set, programs with a coordinator and a node section,
//! expression evaluation, builtin functions and aggregates.
//!
//! A [`Program`] has two code sections. The **coordinator** section runs on the frontend as a
//! resumable state machine ([`Coordinator`]): whenever it needs the nodes it yields a
//! [`Dispatch`] and is resumed with their outputs. The **node** section runs on each
//! participating compute node ([`run_node`]) against the partition that node owns.

pub mod agg;
pub mod coord;
pub mod exec;
pub mod func;
pub mod node_exec;
pub mod op;
pub mod program;
pub mod sets;

pub use agg::{AggKind, AggState};
pub use coord::{Coordinator, Dispatch, Shipped, Step};
pub use node_exec::{run_node, Change, NodeCtx, NodeOutput};
pub use op::{BinOp, Op, Reg, UnOp};
pub use program::{Bind, Env, Operand, Program, StmtInfo, TableRef};
