//! Users and privileges: `CREATE USER`, `DROP USER`, `GRANT`, `REVOKE`, and the
//! `'user'@'host'` syntax they share with `SET PASSWORD` / `SHOW GRANTS`.

use sqlparser::tokenizer::Token;

use crate::parser::{ParserContext, Result};
use crate::statement::Statement;
use crate::statements::TableName;
use crate::statements::account::{GrantObject, Grantee, Privilege, UserAuth, UserIdentity};

impl ParserContext {
    /// `'user'@'host'`, `"user"@"host"`, `user@host`, `'user'@host` or just
    /// `'user'` (host `%`).
    pub(crate) fn parse_user_identity(&mut self) -> Result<UserIdentity> {
        let (user, inline_host) = match &self.parser.peek_token_ref().token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => (s.clone(), None),
            // The MySQL tokenizer keeps `@` inside words: `root@localhost` is one word.
            Token::Word(w) if w.quote_style.is_none() => match w.value.split_once('@') {
                Some((u, h)) if !u.is_empty() => (u.to_string(), Some(h.to_string())),
                _ => (w.value.clone(), None),
            },
            Token::Word(w) => (w.value.clone(), None),
            _ => return Err(self.expected("a user name ('user'@'host')")),
        };
        self.parser.next_token();
        let host = match inline_host {
            Some(h) if !h.is_empty() => h,
            // `user@'host'`: the word ended with the `@`.
            Some(_) => self.parse_host()?,
            None => {
                if self.consume(&Token::AtSign) {
                    self.parse_host()?
                } else {
                    let at_word = match &self.parser.peek_token_ref().token {
                        Token::Word(w) if w.quote_style.is_none() => {
                            w.value.strip_prefix('@').map(str::to_string)
                        }
                        _ => None,
                    };
                    match at_word {
                        Some(h) if !h.is_empty() => {
                            self.parser.next_token();
                            h
                        }
                        _ => "%".to_string(),
                    }
                }
            }
        };
        Ok(UserIdentity { user, host })
    }

    fn parse_host(&mut self) -> Result<String> {
        match &self.parser.peek_token_ref().token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => {
                let h = s.clone();
                self.parser.next_token();
                Ok(h)
            }
            Token::Word(w) => {
                let h = w.value.clone();
                self.parser.next_token();
                Ok(h)
            }
            _ => Err(self.expected("a host after '@'")),
        }
    }

    /// After `CREATE USER`.
    pub(crate) fn parse_create_user_body(&mut self) -> Result<Statement> {
        let if_not_exists = self.parse_words(&["IF", "NOT", "EXISTS"]);
        let user = self.parse_user_identity()?;
        let auth = if self.parse_word("IDENTIFIED") {
            Some(self.parse_identified_by()?)
        } else {
            None
        };
        Ok(Statement::CreateUser {
            if_not_exists,
            user,
            auth,
        })
    }

    /// After `IDENTIFIED`: `BY 'plain'` or `BY PASSWORD 'hash'`.
    fn parse_identified_by(&mut self) -> Result<UserAuth> {
        self.expect_word("BY", " after IDENTIFIED")?;
        if self.parse_word("PASSWORD") {
            Ok(UserAuth::HashedPassword(
                self.parse_string("a hashed password string")?,
            ))
        } else {
            Ok(UserAuth::Password(self.parse_string("a password string")?))
        }
    }

    /// After `ALTER USER`: `[IF EXISTS] 'u'@'h' IDENTIFIED BY [PASSWORD] '...'`.
    pub(crate) fn parse_alter_user_body(&mut self) -> Result<Statement> {
        let if_exists = self.parse_words(&["IF", "EXISTS"]);
        let user = self.parse_user_identity()?;
        self.expect_word(
            "IDENTIFIED",
            " after the user (ALTER USER u IDENTIFIED BY '...')",
        )?;
        let auth = self.parse_identified_by()?;
        Ok(Statement::AlterUser {
            if_exists,
            user,
            auth,
        })
    }

    /// After `DROP USER`.
    pub(crate) fn parse_drop_user_body(&mut self) -> Result<Statement> {
        let if_exists = self.parse_words(&["IF", "EXISTS"]);
        let user = self.parse_user_identity()?;
        Ok(Statement::DropUser { if_exists, user })
    }

    /// `GRANT privs ON obj TO grantee` / `REVOKE privs ON obj FROM grantee`.
    pub(crate) fn parse_grant_revoke(&mut self) -> Result<Statement> {
        let grant = self.parse_word("GRANT");
        if !grant {
            self.expect_word("REVOKE", "")?;
        }
        let privileges = self.comma_separated(|p| p.parse_privilege())?;
        self.expect_word("ON", " after the privilege list")?;
        let object = self.parse_grant_object()?;
        if grant {
            self.expect_word("TO", " after the GRANT object")?;
        } else {
            self.expect_word("FROM", " after the REVOKE object")?;
        }
        let grantee = if self.parse_word("ROLE") {
            Grantee::Role(self.parse_value_text("a role name")?)
        } else {
            let _ = self.parse_word("USER");
            Grantee::User(self.parse_user_identity()?)
        };
        Ok(if grant {
            Statement::Grant {
                privileges,
                object,
                grantee,
            }
        } else {
            Statement::Revoke {
                privileges,
                object,
                grantee,
            }
        })
    }

    fn parse_privilege(&mut self) -> Result<Privilege> {
        let found = match &self.parser.peek_token_ref().token {
            Token::Word(w) if w.quote_style.is_none() => Privilege::from_name(&w.value),
            _ => None,
        };
        match found {
            Some(p) => {
                self.parser.next_token();
                if p == Privilege::All {
                    let _ = self.parse_word("PRIVILEGES");
                }
                Ok(p)
            }
            None => Err(self.expected(
                "a privilege (ALL, NODE, OPERATOR, ADMIN, GRANT, SELECT, INSERT, LOAD, ALTER, \
                 CREATE, DROP, DELETE, UPDATE, USAGE)",
            )),
        }
    }

    /// `*.*`, `db.*`, `db.tbl`, `tbl`, `DATABASE db`, `TABLE [db.]tbl`.
    fn parse_grant_object(&mut self) -> Result<GrantObject> {
        if self.parse_word("DATABASE") {
            return Ok(GrantObject::Database(self.parse_ident("database name")?));
        }
        if self.parse_word("TABLE") {
            return Ok(GrantObject::Table(self.parse_table_name()?));
        }
        if self.consume(&Token::Mul) {
            self.expect_token(&Token::Period, "'.' after '*' (use *.*)")?;
            self.expect_token(&Token::Mul, "'*' after '*.' (use *.*)")?;
            return Ok(GrantObject::Global);
        }
        let first = self.parse_ident("*.*, db.* or db.table")?;
        if !self.consume(&Token::Period) {
            return Ok(GrantObject::Table(TableName::new(first)));
        }
        if self.consume(&Token::Mul) {
            return Ok(GrantObject::Database(first));
        }
        let table = self.parse_ident("a table name or '*' after 'db.'")?;
        Ok(GrantObject::Table(TableName::qualified(first, table)))
    }
}
