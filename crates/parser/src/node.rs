//! Compute nodes:
//!
//! ```text
//! CREATE [COMPUTE] NODE [IF NOT EXISTS] ['uuid']
//! DROP [COMPUTE] NODE [IF EXISTS] 'uuid'
//! ```

use crate::ast::*;
use crate::lexer::Kw;
use crate::parser::Parser;
use amelie_common::Result;

impl Parser {
    /// True when the current token starts `CREATE|DROP [COMPUTE] NODE`.
    pub(crate) fn at_node_stmt(&self) -> bool {
        self.is_kw_at(1, Kw::Node) || (self.is_kw_at(1, Kw::Compute) && self.is_kw_at(2, Kw::Node))
    }

    /// `CREATE|DROP [COMPUTE] NODE ...` (current token is the verb).
    pub(crate) fn node_stmt(&mut self) -> Result<Stmt> {
        let create = self.is_kw(Kw::Create);
        self.advance();
        self.accept_kw(Kw::Compute);
        self.advance(); // NODE
        if create {
            let if_not_exists = self.if_not_exists()?;
            let id = self.take_string();
            if if_not_exists && id.is_none() {
                return self.fail("CREATE NODE IF NOT EXISTS <id> expected");
            }
            Ok(Stmt::CreateNode { if_not_exists, id })
        } else {
            let if_exists = self.if_exists()?;
            match self.take_string() {
                Some(id) => Ok(Stmt::DropNode { if_exists, id }),
                None => self.fail("DROP NODE <id> expected"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::Stmt;
    use crate::tests::{err, one};

    #[test]
    fn create_node() {
        assert_eq!(
            one("create node"),
            Stmt::CreateNode {
                if_not_exists: false,
                id: None
            }
        );
        assert_eq!(
            one("CREATE COMPUTE NODE IF NOT EXISTS 'x'"),
            Stmt::CreateNode {
                if_not_exists: true,
                id: Some("x".into())
            }
        );
        assert!(one("create node 'x'").is_utility());
        assert_eq!(
            err("create node if not exists"),
            "CREATE NODE IF NOT EXISTS <id> expected"
        );
        assert_eq!(err("create node if exists 'x'"), "IF <NOT> EXISTS expected");
    }

    #[test]
    fn drop_node() {
        assert_eq!(
            one("drop node if exists 'x'"),
            Stmt::DropNode {
                if_exists: true,
                id: "x".into()
            }
        );
        assert_eq!(
            one("drop compute node 'x'"),
            Stmt::DropNode {
                if_exists: false,
                id: "x".into()
            }
        );
        assert_eq!(err("drop node"), "DROP NODE <id> expected");
        assert_eq!(err("drop node x"), "DROP NODE <id> expected");
    }
}
