//! Users, tokens and WATCH:
//!
//! ```text
//! CREATE USER [IF NOT EXISTS] name [SECRET 'value']
//! ALTER USER name SECRET 'value'
//! DROP USER [IF EXISTS] name
//! CREATE TOKEN name [EXPIRE 'interval']
//! WATCH expr
//! ```

use crate::ast::*;
use crate::lexer::Kw;
use crate::parser::Parser;
use amelie_common::Result;

impl Parser {
    /// A plain identifier naming a user.
    fn user_name(&mut self, msg: &str) -> Result<String> {
        match self.take_ident() {
            Some(n) => Ok(n),
            None => self.fail(msg),
        }
    }

    /// `CREATE|ALTER|DROP USER ...` and `CREATE TOKEN ...` (current token is the verb).
    pub(crate) fn user_stmt(&mut self) -> Result<Stmt> {
        let verb = self.peek_kw();
        self.advance();
        let token = self.is_kw(Kw::Token);
        self.advance();
        match (verb, token) {
            (Some(Kw::Create), false) => {
                let if_not_exists = self.if_not_exists()?;
                let name = self.user_name("CREATE USER <name> expected")?;
                let secret = if self.accept_kw(Kw::Secret) {
                    match self.take_string() {
                        Some(s) => Some(s),
                        None => return self.fail("CREATE USER name SECRET <string> expected"),
                    }
                } else {
                    None
                };
                Ok(Stmt::CreateUser {
                    if_not_exists,
                    name,
                    secret,
                })
            }
            (Some(Kw::Alter), false) => {
                let name = self.user_name("ALTER USER <name> expected")?;
                if !self.accept_kw(Kw::Secret) {
                    return self.fail("ALTER USER name <SECRET> expected");
                }
                match self.take_string() {
                    Some(secret) => Ok(Stmt::AlterUser { name, secret }),
                    None => self.fail("ALTER USER name SECRET <string> expected"),
                }
            }
            (Some(Kw::Drop), false) => {
                let if_exists = self.if_exists()?;
                let name = self.user_name("DROP USER <name> expected")?;
                Ok(Stmt::DropUser { if_exists, name })
            }
            (Some(Kw::Create), true) => {
                let name = self.user_name("CREATE TOKEN <name> expected")?;
                let expire = if self.accept_kw(Kw::Expire) {
                    match self.take_string() {
                        Some(s) => Some(s),
                        None => return self.fail("CREATE TOKEN name EXPIRE <string> expected"),
                    }
                } else {
                    None
                };
                Ok(Stmt::CreateToken { name, expire })
            }
            (Some(Kw::Alter), true) => self.fail("ALTER <USER|SCHEMA|TABLE|INDEX> expected"),
            _ => self.fail("DROP <USER|REPLICA|NODE|SCHEMA|TABLE|INDEX> expected"),
        }
    }

    /// `WATCH expr` (current token is WATCH).
    pub(crate) fn watch(&mut self) -> Result<Stmt> {
        self.advance();
        let expr = self.expr()?;
        Ok(Stmt::Watch(Box::new(Select {
            distinct: false,
            distinct_on: Vec::new(),
            items: vec![SelectItem::Expr { expr, alias: None }],
            format: Some("json".to_string()),
            from: Vec::new(),
            filter: None,
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            limit: None,
            offset: None,
        })))
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::tests::{err, one};

    #[test]
    fn users() {
        assert_eq!(
            one("create user if not exists test secret 'abc'"),
            Stmt::CreateUser {
                if_not_exists: true,
                name: "test".into(),
                secret: Some("abc".into())
            }
        );
        assert_eq!(
            one("CREATE USER test"),
            Stmt::CreateUser {
                if_not_exists: false,
                name: "test".into(),
                secret: None
            }
        );
        assert_eq!(
            one("alter user test secret ''"),
            Stmt::AlterUser {
                name: "test".into(),
                secret: String::new()
            }
        );
        assert_eq!(
            one("drop user if exists test"),
            Stmt::DropUser {
                if_exists: true,
                name: "test".into()
            }
        );
        assert_eq!(
            one("create token test expire '1 hour'"),
            Stmt::CreateToken {
                name: "test".into(),
                expire: Some("1 hour".into())
            }
        );
        assert!(one("watch 1 = 1").is_utility());
        assert_eq!(err("create user"), "CREATE USER <name> expected");
        assert_eq!(
            err("create user x secret 1"),
            "CREATE USER name SECRET <string> expected"
        );
        assert_eq!(err("alter user x"), "ALTER USER name <SECRET> expected");
        assert_eq!(err("drop user 'x'"), "DROP USER <name> expected");
        assert_eq!(
            err("create user x y"),
            "unexpected token at the end of statement"
        );
        assert!(crate::parse("create user a; select 1").is_err());
        assert!(crate::parse("watch").is_err());
    }
}
