//! The statement AST of the Amelie dialect (our own: sqlparser's AST cannot express it).

use amelie_common::{ColumnType, Json, Value};

/// A literal of a request parsed with [`crate::parse_params`]: its position among the
/// request's literals and its value.
///
/// A program compiled from such a request is reused for requests that differ only in the
/// values of their literals, so the compiler must not let a literal's VALUE shape the program
/// unless it records that: reading [`ParamRef::value`], and finding two different literals
/// equal with `==`, mark the literal(s) as *baked* in the recorder of the current thread (see
/// [`record_baked`]); a cached program is reused only when its baked literals keep their
/// values. The position and the type can be used freely (the cache key holds every literal's
/// type).
#[derive(Clone, Debug)]
pub struct ParamRef {
    ord: u32,
    value: Value,
}

impl ParamRef {
    pub fn new(ord: u32, value: Value) -> ParamRef {
        ParamRef { ord, value }
    }

    /// The literal's position among the request's literals.
    pub fn ord(&self) -> u32 {
        self.ord
    }

    /// The literal's type.
    pub fn ty(&self) -> amelie_common::Type {
        self.value.type_of()
    }

    /// The literal's value; marks the literal as baked into what is being built.
    pub fn value(&self) -> &Value {
        record(self.ord);
        &self.value
    }

    fn same(&self, other: &ParamRef) -> bool {
        match (&self.value, &other.value) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Double(a), Value::Double(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            _ => false,
        }
    }
}

/// Equal like the literal expressions they stand for (`Int(1) != Double(1.0)`). Two
/// different literals found equal are both baked: whatever the compiler shared or matched
/// because of that equality must not be reused for values that differ.
impl PartialEq for ParamRef {
    fn eq(&self, other: &ParamRef) -> bool {
        let same = self.same(other);
        if same && self.ord != other.ord {
            record(self.ord);
            record(other.ord);
        }
        same
    }
}

thread_local! {
    static BAKED: std::cell::RefCell<Option<Vec<u32>>> = const { std::cell::RefCell::new(None) };
}

fn record(ord: u32) {
    BAKED.with(|b| {
        if let Some(list) = b.borrow_mut().as_mut() {
            list.push(ord);
        }
    });
}

/// Starts recording (on this thread) which literals get baked: see [`ParamRef`]. Returns the
/// literals baked since then when `f` returns, along with its result.
pub fn record_baked<R>(f: impl FnOnce() -> R) -> (R, Vec<u32>) {
    let outer = BAKED.with(|b| b.borrow_mut().replace(Vec::new()));
    let r = f();
    let baked = BAKED.with(|b| std::mem::replace(&mut *b.borrow_mut(), outer));
    (r, baked.unwrap_or_default())
}

/// One parsed request: optional EXPLAIN, then statements (BEGIN/COMMIT framing removed).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Request {
    pub explain: bool,
    pub stmts: Vec<Stmt>,
    /// [`crate::parse_params`] only: the value of every number and string literal of the
    /// request, in source order ([`Expr::Param`] refers to them by position).
    pub params: Vec<Value>,
    /// [`crate::parse_params`] only: per literal, whether the parser used its value itself
    /// (a GENERATE count, a FORMAT name, a folded JSON constant, ...) rather than leaving it
    /// to an [`Expr::Param`]. A program compiled from such a request is valid only for the
    /// same value of that literal.
    pub baked: Vec<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `CHECKPOINT [WORKERS n]`
    Checkpoint {
        workers: Option<i64>,
    },
    CreateTable(CreateTable),
    DropTable {
        if_exists: bool,
        name: ObjectName,
    },
    Insert(Insert),
    Select(Box<Select>),
    Update(Update),
    Delete(Delete),
    CreateSchema {
        if_not_exists: bool,
        name: String,
    },
    DropSchema {
        if_exists: bool,
        name: String,
        cascade: bool,
    },
    AlterSchema {
        if_exists: bool,
        name: String,
        new_name: String,
    },
    Truncate {
        if_exists: bool,
        name: ObjectName,
    },
    /// `SHOW what [arg] [EXTENDED] [FORMAT 'spec']`
    Show {
        what: String,
        arg: Option<String>,
        extended: bool,
        format: Option<String>,
    },
    /// `SET name TO value`
    Set {
        name: String,
        value: Expr,
    },
    CreateIndex(CreateIndex),
    DropIndex {
        if_exists: bool,
        name: String,
        table: ObjectName,
    },
    AlterIndex {
        if_exists: bool,
        name: String,
        table: ObjectName,
        new_name: String,
    },
    AlterTable {
        if_exists: bool,
        name: ObjectName,
        op: AlterTableOp,
    },
    /// `CREATE USER [IF NOT EXISTS] name [SECRET 'value']`
    CreateUser {
        if_not_exists: bool,
        name: String,
        secret: Option<String>,
    },
    /// `ALTER USER name SECRET 'value'` ('' clears the secret)
    AlterUser {
        name: String,
        secret: String,
    },
    /// `DROP USER [IF EXISTS] name`
    DropUser {
        if_exists: bool,
        name: String,
    },
    /// `CREATE TOKEN name [EXPIRE 'interval']`
    CreateToken {
        name: String,
        expire: Option<String>,
    },
    /// `CREATE [COMPUTE] NODE [IF NOT EXISTS] ['uuid']` (no id: one is generated)
    CreateNode {
        if_not_exists: bool,
        id: Option<String>,
    },
    /// `DROP [COMPUTE] NODE [IF EXISTS] 'uuid'`
    DropNode {
        if_exists: bool,
        id: String,
    },
    /// `CREATE REPLICA [IF NOT EXISTS] 'uuid' uri '...' [token '...'] [tls_* '...']`
    CreateReplica(CreateReplica),
    /// `DROP REPLICA [IF EXISTS] 'uuid'`
    DropReplica {
        if_exists: bool,
        id: String,
    },
    /// `START REPL | START REPLICATION`
    StartRepl,
    /// `STOP REPL | STOP REPLICATION`
    StopRepl,
    /// `SUBSCRIBE 'primary-uuid'`: become a read-only replica of that primary.
    Subscribe {
        primary: String,
    },
    /// `UNSUBSCRIBE`: become a primary again.
    Unsubscribe,
    /// `WATCH expr`: the expression as a coordinator-only `SELECT expr`.
    Watch(Box<Select>),
    /// `WITH name [(cols)] AS (stmt), ... [main]` (main absent: a standalone WITH block).
    With {
        ctes: Vec<Cte>,
        main: Option<Box<Stmt>>,
    },
}

/// One common table expression of a WITH block.
#[derive(Clone, Debug, PartialEq)]
pub struct Cte {
    pub name: String,
    /// Optional column names (must match the number of returned columns).
    pub columns: Vec<String>,
    pub stmt: Box<Stmt>,
}

impl Stmt {
    /// Utility statements must be the only statement of a request.
    pub fn is_utility(&self) -> bool {
        matches!(
            self,
            Stmt::CreateTable(_)
                | Stmt::Checkpoint { .. }
                | Stmt::DropTable { .. }
                | Stmt::CreateSchema { .. }
                | Stmt::DropSchema { .. }
                | Stmt::AlterSchema { .. }
                | Stmt::Truncate { .. }
                | Stmt::Show { .. }
                | Stmt::Set { .. }
                | Stmt::CreateIndex(_)
                | Stmt::DropIndex { .. }
                | Stmt::AlterIndex { .. }
                | Stmt::AlterTable { .. }
                | Stmt::CreateUser { .. }
                | Stmt::AlterUser { .. }
                | Stmt::DropUser { .. }
                | Stmt::CreateToken { .. }
                | Stmt::CreateNode { .. }
                | Stmt::DropNode { .. }
                | Stmt::CreateReplica(_)
                | Stmt::DropReplica { .. }
                | Stmt::StartRepl
                | Stmt::StopRepl
                | Stmt::Subscribe { .. }
                | Stmt::Unsubscribe
                | Stmt::Watch(_)
        )
    }

    /// What running the statement changes; a read-only server (a subscribed replica) refuses
    /// every [`Effect::Write`].
    pub fn effect(&self) -> Effect {
        match self {
            Stmt::Select(_) | Stmt::Show { .. } | Stmt::Watch(_) => Effect::Read,
            Stmt::Set { .. }
            | Stmt::Checkpoint { .. }
            | Stmt::CreateUser { .. }
            | Stmt::AlterUser { .. }
            | Stmt::DropUser { .. }
            | Stmt::CreateToken { .. }
            | Stmt::CreateReplica(_)
            | Stmt::DropReplica { .. }
            | Stmt::StartRepl
            | Stmt::StopRepl
            | Stmt::Subscribe { .. }
            | Stmt::Unsubscribe => Effect::Server,
            Stmt::With { ctes, main } => ctes
                .iter()
                .map(|c| c.stmt.effect())
                .chain(main.iter().map(|m| m.effect()))
                .max()
                .unwrap_or(Effect::Read),
            Stmt::Insert(_)
            | Stmt::Update(_)
            | Stmt::Delete(_)
            | Stmt::CreateTable(_)
            | Stmt::DropTable { .. }
            | Stmt::CreateSchema { .. }
            | Stmt::DropSchema { .. }
            | Stmt::AlterSchema { .. }
            | Stmt::Truncate { .. }
            | Stmt::CreateIndex(_)
            | Stmt::DropIndex { .. }
            | Stmt::AlterIndex { .. }
            | Stmt::AlterTable { .. }
            | Stmt::CreateNode { .. }
            | Stmt::DropNode { .. } => Effect::Write,
        }
    }
}

/// What a statement changes (ordered: a request's effect is the largest of its statements').
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Effect {
    /// Nothing: SELECT, SHOW, WATCH, and any EXPLAIN.
    Read,
    /// The server's own state kept in `config.json`, outside the database and its WAL: SET,
    /// users and tokens, replicas and the replication role, CHECKPOINT.
    Server,
    /// The database, through its WAL: DML (also inside a WITH), DDL, compute nodes, imports.
    Write,
}

impl Request {
    /// The largest [`Stmt::effect`] of the request; an EXPLAIN runs nothing ([`Effect::Read`]).
    pub fn effect(&self) -> Effect {
        if self.explain {
            return Effect::Read;
        }
        self.stmts
            .iter()
            .map(Stmt::effect)
            .max()
            .unwrap_or(Effect::Read)
    }
}

/// `CREATE REPLICA`: the replica's id and connection options (`""`: not given).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreateReplica {
    pub if_not_exists: bool,
    pub id: String,
    pub uri: String,
    pub token: String,
    pub tls_ca: String,
    pub tls_capath: String,
    pub tls_cert: String,
    pub tls_key: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CreateIndex {
    pub if_not_exists: bool,
    pub unique: bool,
    pub name: String,
    pub table: ObjectName,
    pub keys: Vec<String>,
    /// `WITH (type = ..)`; None = tree.
    pub index_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AlterTableOp {
    Rename(ObjectName),
    SetSerial(i64),
    SetLogged(bool),
    RenameColumn {
        from: String,
        to: String,
    },
    AddColumn {
        if_not_exists: bool,
        column: ColumnDef,
    },
    DropColumn {
        if_exists: bool,
        name: String,
    },
    SetDefault {
        column: String,
        value: Expr,
    },
    UnsetDefault {
        column: String,
    },
    /// `SET COLUMN c AS (expr) STORED|RESOLVED` / `UNSET COLUMN c STORED|RESOLVED`
    /// `value`: the expression's source text (None: UNSET).
    SetGenerated {
        column: String,
        stored: bool,
        value: Option<String>,
    },
}

/// `[schema.]name`; schema defaults to `public` at resolution time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectName {
    pub schema: Option<String>,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CreateTable {
    pub if_not_exists: bool,
    pub shared: bool,
    pub unlogged: bool,
    pub name: ObjectName,
    pub columns: Vec<ColumnDef>,
    /// Column names of `PRIMARY KEY (a, b)` or of the columns marked `PRIMARY KEY`, in order.
    pub primary_key: Vec<String>,
    /// `WITH (type = 'hash')`; None = tree.
    pub index_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: ColumnType,
    pub not_null: bool,
    pub default: Option<Expr>,
    pub serial: bool,
    pub random: Option<Option<i64>>,
    pub primary_key: bool,
    /// `[GENERATED ALWAYS] AS (expr) STORED`: the expression's source text.
    pub stored: Option<String>,
    /// `[GENERATED ALWAYS] AS (expr) RESOLVED`: the expression's source text.
    pub resolved: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Insert {
    pub table: ObjectName,
    /// Explicit column list, if given.
    pub columns: Option<Vec<String>>,
    pub source: InsertSource,
    pub on_conflict: Option<OnConflict>,
    pub returning: Option<Returning>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum InsertSource {
    /// Rows of literal values (INSERT VALUES takes literals only).
    Values(Vec<Vec<Expr>>),
    Generate(i64),
    Select(Box<Select>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum OnConflict {
    Nothing,
    Error,
    Resolve,
    Update {
        set: Vec<Assignment>,
        filter: Option<Expr>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Returning {
    pub items: Vec<SelectItem>,
    pub format: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// Column name, then an optional JSON path (`SET col.a.b = ...`).
    pub column: String,
    pub path: Vec<String>,
    /// None = DEFAULT.
    pub value: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    pub table: ObjectName,
    pub alias: Option<String>,
    pub set: Vec<Assignment>,
    pub filter: Option<Expr>,
    pub returning: Option<Returning>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Delete {
    pub table: ObjectName,
    pub alias: Option<String>,
    pub filter: Option<Expr>,
    pub returning: Option<Returning>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    pub distinct: bool,
    /// `DISTINCT ON (e1, ...)` (with `distinct` set): sorted by these, the first row of
    /// each run of equal values stays. Empty for a plain DISTINCT.
    pub distinct_on: Vec<Expr>,
    pub items: Vec<SelectItem>,
    pub format: Option<String>,
    pub from: Vec<FromItem>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub order_by: Vec<OrderBy>,
    pub limit: Option<Expr>,
    pub offset: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SelectItem {
    /// `*`
    Wildcard,
    /// `t.*`
    QualifiedWildcard(String),
    Expr {
        expr: Expr,
        alias: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct FromItem {
    pub table: ObjectName,
    pub alias: Option<String>,
    /// `FROM (SELECT ...) alias`: `table` then holds the alias (or an empty name).
    pub subquery: Option<Box<Select>>,
    /// `USE INDEX (name)`: scan in the order of that index.
    pub use_index: Option<String>,
    /// `FROM f(args) [alias]`: a table function; its JSON array elements are the rows and
    /// `table.name` is the function name.
    pub function: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderBy {
    pub expr: Expr,
    pub asc: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    BitOr,
    BitXor,
    BitAnd,
    Shl,
    Shr,
    Add,
    Sub,
    Concat,
    Mul,
    Div,
    Mod,
    Like,
    NotLike,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
    BitNot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number or string literal of the request (only from [`crate::parse_params`];
    /// [`crate::parse`] gives `Int`/`Double`/`String`). See [`ParamRef`].
    Param(ParamRef),
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    String(String),
    /// `TIMESTAMP 'text'`
    Timestamp(String),
    /// `INTERVAL 'text'`
    Interval(String),
    /// `CURRENT_TIMESTAMP`
    CurrentTimestamp,
    /// A JSON literal written as `[..]`/`{..}` where every element is a constant.
    JsonLiteral(Json),
    /// `[e, ...]` with non-constant elements.
    Array(Vec<Expr>),
    /// `{k: v, ...}` with non-constant members.
    Object(Vec<(Expr, Expr)>),
    /// A name or compound name `a.b.c`, split at dots.
    Name(Vec<String>),
    /// `DEFAULT` in a VALUES slot.
    Default,
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `[schema.]name(args)` or `arg0::name(args)`.
    Function {
        schema: Option<String>,
        name: String,
        args: Vec<Expr>,
    },
    /// `count(*)` has `arg = None`.
    Aggregate {
        func: AggFunc,
        arg: Option<Box<Expr>>,
        distinct: bool,
    },
    /// `expr[idx]`
    Index {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    /// `expr.name` applied to a non-name expression.
    Field {
        expr: Box<Expr>,
        name: String,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        else_: Option<Box<Expr>>,
    },
    Subquery(Box<Select>),
    Exists(Box<Select>),
    /// Lambda aggregate `seed -> expr` (`self` = the running state inside `expr`).
    Lambda {
        seed: Box<Expr>,
        expr: Box<Expr>,
    },
    /// `left op ANY|ALL (right)`: `right` is an array expression or an [`Expr::Subquery`].
    AnyAll {
        left: Box<Expr>,
        op: BinaryOp,
        all: bool,
        right: Box<Expr>,
    },
}
