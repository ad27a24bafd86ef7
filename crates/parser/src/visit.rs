//! The one visitor over the AST's expressions.
//!
//! [`Expr::for_each_child`] / [`Expr::for_each_child_mut`] are the only places that list
//! where each kind of expression keeps its sub-expressions; every walk is built on them:
//!
//! * [`Expr::walk`] / [`Expr::walk_mut`]: pre-order (a node, then its children in source
//!   order); the callback returns whether to go into the node's children ([`Walk`]).
//! * [`Expr::for_each`] / [`Expr::for_each_mut`]: every node, pre-order.
//! * [`Expr::any`]: whether some node matches (stops looking at the first one).
//!
//! **Subqueries.** None of these enters a query: for [`Expr::Subquery`] and [`Expr::Exists`]
//! the node itself is visited, but not the expressions of its [`Select`], which is a query
//! of its own with its own names (a caller that wants them walks that `Select`, e.g. with
//! [`Select::for_each_expr`]). Likewise [`Select::for_each_expr`] and
//! [`Stmt::for_each_expr`] visit the expressions that belong to the statement itself and do
//! not go into FROM subqueries, the statements of CTEs or the SELECT of an INSERT.

use crate::ast::*;

/// What a [`Expr::walk`] callback asks for after visiting a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// Visit the node's children.
    Descend,
    /// Do not visit the node's children (the walk goes on with its siblings).
    Skip,
}

impl Expr {
    /// Calls `f` on each direct sub-expression of `self`, in source order (not entering
    /// subqueries: see the module head).
    pub fn for_each_child<'e>(&'e self, f: &mut dyn FnMut(&'e Expr)) {
        match self {
            Expr::Param(_)
            | Expr::Null
            | Expr::Bool(_)
            | Expr::Int(_)
            | Expr::Double(_)
            | Expr::String(_)
            | Expr::Timestamp(_)
            | Expr::Interval(_)
            | Expr::CurrentTimestamp
            | Expr::JsonLiteral(_)
            | Expr::Name(_)
            | Expr::Default
            | Expr::Subquery(_)
            | Expr::Exists(_) => {}
            Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Field { expr, .. } => {
                f(expr)
            }
            Expr::Lambda { seed, expr } => {
                f(seed);
                f(expr);
            }
            Expr::Binary { left, right, .. } | Expr::AnyAll { left, right, .. } => {
                f(left);
                f(right);
            }
            Expr::Index { expr, index } => {
                f(expr);
                f(index);
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                f(expr);
                f(low);
                f(high);
            }
            Expr::In { expr, list, .. } => {
                f(expr);
                list.iter().for_each(f);
            }
            Expr::Function { args, .. } | Expr::Array(args) => args.iter().for_each(f),
            Expr::Object(pairs) => pairs.iter().for_each(|(k, v)| {
                f(k);
                f(v);
            }),
            Expr::Aggregate { arg, .. } => {
                if let Some(a) = arg {
                    f(a);
                }
            }
            Expr::Case {
                operand,
                whens,
                else_,
            } => {
                if let Some(o) = operand {
                    f(o);
                }
                for (w, t) in whens {
                    f(w);
                    f(t);
                }
                if let Some(e) = else_ {
                    f(e);
                }
            }
        }
    }

    /// Mutable counterpart of [`Expr::for_each_child`] (same children, same order).
    pub fn for_each_child_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        match self {
            Expr::Param(_)
            | Expr::Null
            | Expr::Bool(_)
            | Expr::Int(_)
            | Expr::Double(_)
            | Expr::String(_)
            | Expr::Timestamp(_)
            | Expr::Interval(_)
            | Expr::CurrentTimestamp
            | Expr::JsonLiteral(_)
            | Expr::Name(_)
            | Expr::Default
            | Expr::Subquery(_)
            | Expr::Exists(_) => {}
            Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Field { expr, .. } => {
                f(expr)
            }
            Expr::Lambda { seed, expr } => {
                f(seed);
                f(expr);
            }
            Expr::Binary { left, right, .. } | Expr::AnyAll { left, right, .. } => {
                f(left);
                f(right);
            }
            Expr::Index { expr, index } => {
                f(expr);
                f(index);
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                f(expr);
                f(low);
                f(high);
            }
            Expr::In { expr, list, .. } => {
                f(expr);
                list.iter_mut().for_each(f);
            }
            Expr::Function { args, .. } | Expr::Array(args) => args.iter_mut().for_each(f),
            Expr::Object(pairs) => pairs.iter_mut().for_each(|(k, v)| {
                f(k);
                f(v);
            }),
            Expr::Aggregate { arg, .. } => {
                if let Some(a) = arg {
                    f(a);
                }
            }
            Expr::Case {
                operand,
                whens,
                else_,
            } => {
                if let Some(o) = operand {
                    f(o);
                }
                for (w, t) in whens {
                    f(w);
                    f(t);
                }
                if let Some(e) = else_ {
                    f(e);
                }
            }
        }
    }

    /// Visits `self` and its sub-expressions in pre-order; `f` decides for each node whether
    /// its children are visited too.
    pub fn walk<'e>(&'e self, f: &mut dyn FnMut(&'e Expr) -> Walk) {
        if f(self) == Walk::Descend {
            self.for_each_child(&mut |c| c.walk(f));
        }
    }

    /// Mutable counterpart of [`Expr::walk`]: `f` may replace a node before its (new)
    /// children are visited.
    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Expr) -> Walk) {
        if f(self) == Walk::Descend {
            self.for_each_child_mut(&mut |c| c.walk_mut(f));
        }
    }

    /// Visits `self` and every sub-expression, in pre-order.
    pub fn for_each<'e>(&'e self, f: &mut dyn FnMut(&'e Expr)) {
        self.walk(&mut |e| {
            f(e);
            Walk::Descend
        })
    }

    /// Mutable counterpart of [`Expr::for_each`].
    pub fn for_each_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        self.walk_mut(&mut |e| {
            f(e);
            Walk::Descend
        })
    }

    /// Whether `self` or one of its sub-expressions satisfies `pred`.
    pub fn any(&self, mut pred: impl FnMut(&Expr) -> bool) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if !found && pred(e) {
                found = true;
            }
            if found {
                Walk::Skip
            } else {
                Walk::Descend
            }
        });
        found
    }
}

impl SelectItem {
    /// The expression of an item (`*` and `t.*` have none).
    pub fn expr(&self) -> Option<&Expr> {
        match self {
            SelectItem::Expr { expr, .. } => Some(expr),
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => None,
        }
    }
}

impl Select {
    /// Calls `f` on every top-level expression of the query, in clause order: DISTINCT ON,
    /// the select list, FROM functions, WHERE, GROUP BY, HAVING, ORDER BY, LIMIT, OFFSET
    /// (not entering FROM subqueries or subquery expressions).
    pub fn for_each_expr<'s>(&'s self, f: &mut dyn FnMut(&'s Expr)) {
        self.distinct_on.iter().for_each(&mut *f);
        self.items
            .iter()
            .filter_map(SelectItem::expr)
            .for_each(&mut *f);
        self.from
            .iter()
            .filter_map(|i| i.function.as_ref())
            .for_each(&mut *f);
        self.filter.iter().for_each(&mut *f);
        self.group_by.iter().for_each(&mut *f);
        self.having.iter().for_each(&mut *f);
        self.order_by.iter().map(|o| &o.expr).for_each(&mut *f);
        self.limit.iter().for_each(&mut *f);
        self.offset.iter().for_each(&mut *f);
    }
}

impl Returning {
    fn for_each_expr<'s>(&'s self, f: &mut dyn FnMut(&'s Expr)) {
        self.items.iter().filter_map(SelectItem::expr).for_each(f);
    }
}

impl Stmt {
    /// Calls `f` on every top-level expression of the statement (for a SELECT, see
    /// [`Select::for_each_expr`]; DEFAULTs of column definitions, `SET` values, VALUES rows,
    /// ON CONFLICT, assignments, WHERE and RETURNING of DML). Nested statements (CTEs, the
    /// SELECT of INSERT SELECT) are not entered.
    pub fn for_each_expr<'s>(&'s self, f: &mut dyn FnMut(&'s Expr)) {
        let assignments = |set: &'s [Assignment], f: &mut dyn FnMut(&'s Expr)| {
            set.iter().filter_map(|a| a.value.as_ref()).for_each(f)
        };
        match self {
            Stmt::Select(s) | Stmt::Watch(s) => s.for_each_expr(f),
            Stmt::CreateTable(ct) => ct
                .columns
                .iter()
                .filter_map(|c| c.default.as_ref())
                .for_each(f),
            Stmt::Set { value, .. } => f(value),
            Stmt::AlterTable { op, .. } => match op {
                AlterTableOp::SetDefault { value, .. } => f(value),
                AlterTableOp::AddColumn { column, .. } => column.default.iter().for_each(f),
                _ => {}
            },
            Stmt::Insert(i) => {
                if let InsertSource::Values(rows) = &i.source {
                    rows.iter().flatten().for_each(&mut *f);
                }
                if let Some(OnConflict::Update { set, filter }) = &i.on_conflict {
                    assignments(set, f);
                    filter.iter().for_each(&mut *f);
                }
                if let Some(r) = &i.returning {
                    r.for_each_expr(f);
                }
            }
            Stmt::Update(u) => {
                assignments(&u.set, f);
                u.filter.iter().for_each(&mut *f);
                if let Some(r) = &u.returning {
                    r.for_each_expr(f);
                }
            }
            Stmt::Delete(d) => {
                d.filter.iter().for_each(&mut *f);
                if let Some(r) = &d.returning {
                    r.for_each_expr(f);
                }
            }
            Stmt::Checkpoint { .. }
            | Stmt::DropTable { .. }
            | Stmt::CreateSchema { .. }
            | Stmt::DropSchema { .. }
            | Stmt::AlterSchema { .. }
            | Stmt::Truncate { .. }
            | Stmt::Show { .. }
            | Stmt::CreateIndex(_)
            | Stmt::DropIndex { .. }
            | Stmt::AlterIndex { .. }
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
            | Stmt::With { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(sql: &str) -> Expr {
        crate::parse_expr(sql).unwrap()
    }

    #[test]
    fn every_child_is_visited_in_source_order() {
        let e = expr(
            "case a when -b then [c, d] else {'k': e} end + f(g[h], i.j::k) - \
             (l between 1 and 2) - (o in (p, q)) - (r is null) - sum(s) - t.u.v - \
             (w = any([x])) - (y -> self + z) - (select aa) - exists(select bb)",
        );
        let mut names = Vec::new();
        e.for_each(&mut |x| {
            if let Expr::Name(p) = x {
                names.push(p.join("."));
            }
        });
        let want = "a b c d e g h i.j l o p q r s t.u.v w x y self z";
        assert_eq!(names.join(" "), want);
        // subqueries are visited as nodes, not entered
        let mut subs = 0;
        e.for_each(&mut |x| subs += usize::from(matches!(x, Expr::Subquery(_) | Expr::Exists(_))));
        assert_eq!(subs, 2);
        assert!(e.any(|x| matches!(x, Expr::Exists(_))));
        assert!(!e.any(|x| matches!(x, Expr::Name(p) if p[0] == "aa")));
    }

    #[test]
    fn walk_can_skip_and_rewrite() {
        let mut e = expr("sum(a + b) + c");
        let mut seen = 0;
        e.walk(&mut |x| {
            seen += 1;
            if matches!(x, Expr::Aggregate { .. }) {
                Walk::Skip
            } else {
                Walk::Descend
            }
        });
        // + , sum(..), c
        assert_eq!(seen, 3);
        e.for_each_mut(&mut |x| {
            if let Expr::Name(p) = x {
                p[0].make_ascii_uppercase();
            }
        });
        assert_eq!(e, expr("sum(A + B) + C"));
    }

    #[test]
    fn statements_list_their_expressions() {
        let count = |sql: &str| {
            let req = crate::parse(sql).unwrap();
            let mut n = 0;
            req.stmts[0].for_each_expr(&mut |_| n += 1);
            n
        };
        assert_eq!(
            count("select a, * from t, f(1) x where b group by c having d order by e limit 1 offset 2"),
            8
        );
        assert_eq!(
            count("insert into t values (1, 2), (3, 4) on conflict do update set a = 1 where b returning a, *"),
            7
        );
        assert_eq!(
            count("update t set a = 1, b = default where c returning d"),
            3
        );
        assert_eq!(count("delete from t where a returning *"), 1);
        assert_eq!(
            count("create table t (id int primary key default 1, b int)"),
            1
        );
    }
}
