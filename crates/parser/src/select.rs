//! SELECT: the select list, FROM (targets, joins, FROM subqueries and functions, `USE
//! INDEX`), WHERE, GROUP BY/HAVING, ORDER BY, LIMIT/OFFSET, FORMAT, RETURNING lists, and
//! WITH blocks.

use crate::ast::*;
use crate::lexer::{Kw, Tok, P};
use crate::parser::Parser;
use amelie_common::ErrorKind;
use amelie_common::Result;

impl Parser {
    /// FROM and WHERE: the targets and the filter (join conditions AND the WHERE condition).
    #[inline(never)]
    fn select_sources(&mut self) -> Result<(Vec<FromItem>, Option<Expr>)> {
        let (from, on) = self.select_from()?;
        let filter = match (on, self.where_clause()?) {
            (Some(on), Some(w)) => Some(Expr::Binary {
                op: BinaryOp::And,
                left: Box::new(on),
                right: Box::new(w),
            }),
            (on, w) => on.or(w),
        };
        Ok((from, filter))
    }

    /// `[FROM target {, target | [INNER] JOIN target {ON expr | USING (col)}} ...]`: the
    /// targets and the AND of the join conditions.
    #[inline(never)]
    fn select_from(&mut self) -> Result<(Vec<FromItem>, Option<Expr>)> {
        let mut from: Vec<FromItem> = Vec::new();
        let mut on: Option<Expr> = None;
        if !self.accept_kw(Kw::From) {
            return Ok((from, on));
        }
        from.push(self.select_target()?);
        loop {
            if self.accept_p(P::Comma) {
                from.push(self.select_target()?);
                continue;
            }
            let outer = matches!(self.peek_kw(), Some(Kw::Left | Kw::Right));
            if outer {
                self.advance();
                self.accept_kw(Kw::Outer);
            } else if self.accept_kw(Kw::Inner) {
                if !self.is_kw(Kw::Join) {
                    return self.fail("INNER <JOIN> expected");
                }
            } else if !self.is_kw(Kw::Join) {
                break;
            }
            if !self.accept_kw(Kw::Join) {
                return self.fail("<JOIN> expected");
            }
            if outer {
                return self.fail_kind(
                    ErrorKind::Unsupported,
                    "outer joins currently are not supported",
                );
            }
            let prev = from
                .last()
                .map(|f| f.alias.clone().unwrap_or_else(|| f.table.name.clone()))
                .unwrap_or_default();
            let target = self.select_target()?;
            let this = target
                .alias
                .clone()
                .unwrap_or_else(|| target.table.name.clone());
            from.push(target);
            let cond = if self.accept_kw(Kw::On) {
                self.expr()?
            } else if self.accept_kw(Kw::Using) {
                self.expect_p(P::LParen, "USING <(> expected")?;
                let Some(col) = self.take_ident() else {
                    return self.fail("USING (<name> expected");
                };
                self.expect_p(P::RParen, "expected ')'")?;
                Expr::Binary {
                    op: BinaryOp::Eq,
                    left: Box::new(Expr::Name(vec![prev, col.clone()])),
                    right: Box::new(Expr::Name(vec![this, col])),
                }
            } else {
                return self.fail("JOIN <ON> or <USING> expected");
            };
            on = Some(match on {
                Some(prev) => Expr::Binary {
                    op: BinaryOp::And,
                    left: Box::new(prev),
                    right: Box::new(cond),
                },
                None => cond,
            });
        }
        Ok((from, on))
    }

    /// `WITH name [(col, ...)] AS (stmt) [, ...] [main statement]`.
    #[inline(never)]
    pub(crate) fn with(&mut self) -> Result<Stmt> {
        self.advance();
        let mut ctes = Vec::new();
        loop {
            let Some(name) = self.take_ident() else {
                return self.fail("WITH <name> expected");
            };
            let mut columns = Vec::new();
            if self.accept_p(P::LParen) {
                loop {
                    match self.take_ident() {
                        Some(c) => columns.push(c),
                        None => return self.fail("WITH name (<name> expected"),
                    }
                    if self.accept_p(P::Comma) {
                        continue;
                    }
                    self.expect_p(P::RParen, "expected ')'")?;
                    break;
                }
            }
            if !self.accept_kw(Kw::As) {
                return self.fail("WITH name <AS> expected");
            }
            if !self.accept_p(P::LParen) {
                return self.fail("WITH name AS <(> expected");
            }
            let stmt = match self.peek_kw() {
                Some(Kw::Select | Kw::Insert | Kw::Update | Kw::Delete) => self.stmt()?,
                _ => return self.fail("WITH name AS (<SELECT|INSERT|UPDATE|DELETE> expected"),
            };
            self.expect_p(P::RParen, "expected ')'")?;
            ctes.push(Cte {
                name,
                columns,
                stmt: Box::new(stmt),
            });
            if !self.accept_p(P::Comma) {
                break;
            }
        }
        let main = match self.peek_kw() {
            Some(Kw::Select | Kw::Insert | Kw::Update | Kw::Delete) => Some(Box::new(self.stmt()?)),
            _ => None,
        };
        Ok(Stmt::With { ctes, main })
    }

    /// One FROM target: `[schema.]table [alias]` or `(SELECT ...) alias`.
    #[inline(never)]
    fn select_target(&mut self) -> Result<FromItem> {
        if self.is_p(P::LParen) && matches!(self.peek_at(1), Tok::Word(_, Some(Kw::Select))) {
            self.advance();
            let sub = self.select()?;
            self.expect_p(P::RParen, "expected ')'")?;
            let alias = self.alias()?;
            let table = ObjectName {
                schema: None,
                name: alias.clone().unwrap_or_default(),
            };
            return Ok(FromItem {
                table,
                alias,
                subquery: Some(Box::new(sub)),
                use_index: None,
                function: None,
            });
        }
        if matches!(self.peek(), Tok::Word(_, None) | Tok::Name(_))
            && matches!(self.peek_at(1), Tok::P(P::LParen))
        {
            let call = self.expr()?;
            let name = match &call {
                Expr::Function { name, .. } => name.clone(),
                _ => String::new(),
            };
            let alias = self.alias()?;
            return Ok(FromItem {
                table: ObjectName { schema: None, name },
                alias,
                subquery: None,
                use_index: None,
                function: Some(call),
            });
        }
        let table = self.object_name("FROM target name expected")?;
        let alias = self.alias()?;
        let mut use_index = None;
        if self.accept_kw(Kw::Use) {
            if !self.accept_kw(Kw::Index) {
                return self.fail("USE <INDEX> expected");
            }
            if !self.accept_p(P::LParen) {
                return self.fail("USE INDEX <(> expected");
            }
            // the primary index is named `primary`, a keyword
            if self.accept_kw(Kw::Primary) {
                use_index = Some("primary".to_string());
            } else {
                match self.take_ident() {
                    Some(name) => use_index = Some(name),
                    None => return self.fail("USE INDEX (<name> expected"),
                }
            }
            self.expect_p(P::RParen, "expected ')'")?;
        }
        Ok(FromItem {
            table,
            alias,
            subquery: None,
            use_index,
            function: None,
        })
    }

    /// `[AS] alias` after a table or expression; without AS only a plain identifier counts.
    pub(crate) fn alias(&mut self) -> Result<Option<String>> {
        if self.accept_kw(Kw::As) {
            if let Tok::Word(..) = self.peek() {
                if let Tok::Word(s, _) = self.take() {
                    return Ok(Some(s));
                }
            }
            return self.fail("AS <label> expected");
        }
        Ok(self.take_ident())
    }

    /// `SELECT ...` (current token is SELECT).
    pub(crate) fn select(&mut self) -> Result<Select> {
        self.advance();
        let distinct = self.accept_kw(Kw::Distinct);
        let mut distinct_on = Vec::new();
        if distinct && self.accept_kw(Kw::On) {
            self.expect_p(P::LParen, "DISTINCT ON <(> expected")?;
            distinct_on = self.expr_list()?;
            self.expect_p(P::RParen, "DISTINCT ON (<)> expected")?;
        }
        let items = self.select_items()?;
        let format = self.format()?;
        let (from, filter) = self.select_sources()?;
        let mut group_by = Vec::new();
        let mut having = None;
        if self.accept_kw(Kw::Group) {
            if !self.accept_kw(Kw::By) {
                return self.fail("GROUP <BY> expected");
            }
            group_by = self.expr_list()?;
            // HAVING only follows GROUP BY: elsewhere it is left over for the caller to
            // refuse (`unexpected token at the end of statement`)
            if self.accept_kw(Kw::Having) {
                having = Some(self.expr()?);
            }
        }
        let mut order_by = Vec::new();
        if self.accept_kw(Kw::Order) {
            if !self.accept_kw(Kw::By) {
                return self.fail("ORDER <BY> expected");
            }
            loop {
                let expr = self.expr()?;
                let asc = if self.accept_kw(Kw::Desc) {
                    false
                } else {
                    self.accept_kw(Kw::Asc);
                    true
                };
                self.list_item(order_by.len())?;
                order_by.push(OrderBy { expr, asc });
                if !self.accept_p(P::Comma) {
                    break;
                }
            }
        }
        let limit = if self.accept_kw(Kw::Limit) {
            Some(self.expr()?)
        } else {
            None
        };
        let offset = if self.accept_kw(Kw::Offset) {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Select {
            distinct,
            distinct_on,
            items,
            format,
            from,
            filter,
            group_by,
            having,
            order_by,
            limit,
            offset,
        })
    }

    fn select_items(&mut self) -> Result<Vec<SelectItem>> {
        let mut items = Vec::new();
        loop {
            let item = match self.peek() {
                Tok::P(P::Star) => {
                    self.advance();
                    SelectItem::Wildcard
                }
                Tok::NameStar(_) => {
                    let parts = self.take_parts();
                    SelectItem::QualifiedWildcard(parts.join("."))
                }
                _ => {
                    let expr = self.expr()?;
                    let alias = self.alias()?;
                    SelectItem::Expr { expr, alias }
                }
            };
            self.list_item(items.len())?;
            items.push(item);
            if !self.accept_p(P::Comma) {
                return Ok(items);
            }
        }
    }

    fn format(&mut self) -> Result<Option<String>> {
        if !self.accept_kw(Kw::Format) {
            return Ok(None);
        }
        match self.take_string() {
            Some(s) => Ok(Some(s)),
            None => self.fail("FORMAT <string> expected"),
        }
    }

    pub(crate) fn where_clause(&mut self) -> Result<Option<Expr>> {
        if self.accept_kw(Kw::Where) {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    pub(crate) fn returning(&mut self) -> Result<Option<Returning>> {
        if !self.accept_kw(Kw::Returning) {
            return Ok(None);
        }
        let items = self.select_items()?;
        let format = self.format()?;
        Ok(Some(Returning { items, format }))
    }
}
