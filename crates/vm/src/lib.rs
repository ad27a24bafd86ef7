//! The register VM: instruction set, programs with a coordinator and a node section,
//! expression evaluation, builtin functions and aggregates.
//!
//! A [`Program`] has two code sections. The **coordinator** section runs on the frontend as a
//! resumable state machine ([`Coordinator`]): whenever it needs the nodes it yields a
//! [`Dispatch`] and is resumed with their outputs. The **node** section runs on each
//! participating compute node ([`run_node`]) against the partition that node owns.

pub mod agg;
pub mod changes;
pub mod coord;
pub mod exec;
pub mod func;
pub mod generate;
pub mod grouping;
pub mod node_exec;
pub mod op;
pub mod program;
pub mod sets;

pub use agg::{AggKind, AggState};
pub use changes::{ChangeLog, ChangeReader, ChangeRef};
pub use coord::{Coordinator, Dispatch, Shipped, Step};
pub use exec::RowRef;
pub use generate::{GenColumn, GenKind, Generate};
pub use node_exec::{run_node, InsertRows, NodeCtx, NodeOutput};

/// A row of values in flight: coordinator row sets, node outputs, rows shipped to the nodes.
/// (Stored rows are the compact [`amelie_storage::Row`].)
pub type Tuple = Box<[amelie_common::Value]>;
pub use op::{BinOp, Op, Reg, UnOp};
pub use program::{Bind, Env, Operand, Program, StmtInfo, TableRef};
