//! `SET ...`: session/global variables, user variables, NAMES, CHARACTER SET,
//! PASSWORD and TRANSACTION.

use sqlparser::tokenizer::Token;

use crate::parser::{ParserContext, Result};
use crate::statement::Statement;
use crate::statements::set::{
    IsolationLevel, PasswordValue, SetItem, SetValue, TransactionMode, VarScope,
};

fn scope_of(word: &str) -> VarScope {
    if word.eq_ignore_ascii_case("GLOBAL") {
        VarScope::Global
    } else {
        VarScope::Session
    }
}

impl ParserContext {
    /// `SET ...`
    pub(crate) fn parse_set(&mut self) -> Result<Statement> {
        self.expect_word("SET", "")?;
        if self.parse_word("PASSWORD") {
            return Ok(Statement::Set(vec![self.parse_set_password()?]));
        }
        if self.peek_word("PROPERTY") && !self.assignment_follows() {
            self.parser.next_token();
            return self.parse_set_property();
        }
        let scoped_txn = ["GLOBAL", "SESSION", "LOCAL"]
            .iter()
            .any(|s| self.peek_word(s))
            && self.peek_nth_word(1, "TRANSACTION");
        if scoped_txn || self.peek_word("TRANSACTION") {
            let scope = self
                .parse_one_of_words(&["GLOBAL", "SESSION", "LOCAL"])
                .map(scope_of);
            self.expect_word("TRANSACTION", "")?;
            let modes = self.comma_separated(|p| p.parse_transaction_mode())?;
            return Ok(Statement::Set(vec![SetItem::Transaction { scope, modes }]));
        }
        let items = self.comma_separated(|p| p.parse_set_item())?;
        Ok(Statement::Set(items))
    }

    /// True if the token after the next one is `=` or `:=` (so the next word
    /// is a variable name, not a special form).
    fn assignment_follows(&self) -> bool {
        matches!(
            self.parser.peek_nth_token_ref(1).token,
            Token::Eq | Token::Assignment
        )
    }

    fn parse_set_item(&mut self) -> Result<SetItem> {
        if !self.assignment_follows() {
            if self.parse_word("NAMES") {
                let charset = self.parse_charset_name()?;
                let collation = if self.parse_word("COLLATE") {
                    Some(self.parse_value_text("a collation name after COLLATE")?)
                } else {
                    None
                };
                return Ok(SetItem::Names { charset, collation });
            }
            if self.parse_word("CHARSET") || self.parse_words(&["CHARACTER", "SET"]) {
                return Ok(SetItem::CharacterSet(self.parse_charset_name()?));
            }
        }

        let (scope, name) = self.parse_variable_target()?;
        if !(self.consume(&Token::Eq) || self.consume(&Token::Assignment)) {
            return Err(self.expected("'=' or ':=' after the variable name"));
        }
        match scope {
            None => Ok(SetItem::UserVariable {
                name,
                value: self.parser.parse_expr()?,
            }),
            Some(scope) => {
                let value = if self.parse_word("DEFAULT") {
                    SetValue::Default
                } else {
                    SetValue::Expr(self.parser.parse_expr()?)
                };
                Ok(SetItem::Variable { scope, name, value })
            }
        }
    }

    /// The left side of an assignment: `Some(scope)` + name for system
    /// variables, `None` + name for `@user` variables.
    fn parse_variable_target(&mut self) -> Result<(Option<VarScope>, String)> {
        let word = match &self.parser.peek_token_ref().token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.clone()),
            _ => None,
        };
        if let Some(word) = word {
            if let Some(rest) = word.strip_prefix("@@") {
                self.parser.next_token();
                let is_scope = ["GLOBAL", "SESSION", "LOCAL"]
                    .iter()
                    .any(|s| rest.eq_ignore_ascii_case(s));
                if is_scope && self.consume(&Token::Period) {
                    let name = self.parse_ident("a variable name")?;
                    return Ok((Some(scope_of(rest)), name));
                }
                if rest.is_empty() {
                    return Err(self.expected("a variable name after @@"));
                }
                return Ok((Some(VarScope::Session), rest.to_string()));
            }
            if let Some(rest) = word.strip_prefix('@') {
                self.parser.next_token();
                if rest.is_empty() {
                    return Err(self.expected("a variable name after @"));
                }
                return Ok((None, rest.to_string()));
            }
            if !self.assignment_follows()
                && let Some(s) = self.parse_one_of_words(&["GLOBAL", "SESSION", "LOCAL"])
            {
                let name = self.parse_ident("a variable name")?;
                return Ok((Some(scope_of(s)), name));
            }
        }
        let name = self.parse_ident("a variable name after SET")?;
        Ok((Some(VarScope::Session), name))
    }

    /// `DEFAULT` (None) or a charset name.
    fn parse_charset_name(&mut self) -> Result<Option<String>> {
        if self.parse_word("DEFAULT") {
            Ok(None)
        } else {
            Ok(Some(self.parse_value_text("a character set name")?))
        }
    }

    /// After `SET PROPERTY`: `[FOR 'user'] 'key' = 'value' [, ...]`. A `'u'@'h'` user keeps
    /// only its name: properties belong to a user name, whatever the host.
    fn parse_set_property(&mut self) -> Result<Statement> {
        let user = if self.parse_word("FOR") {
            Some(self.parse_user_identity()?.user)
        } else {
            None
        };
        let properties = self.comma_separated(|p| {
            let k = p.parse_string("a property name string")?;
            p.expect_token(&Token::Eq, "'=' after the property name")?;
            let v = p.parse_value_text("a property value string")?;
            Ok((k, v))
        })?;
        Ok(Statement::SetProperty { user, properties })
    }

    /// After `SET PASSWORD`.
    fn parse_set_password(&mut self) -> Result<SetItem> {
        let user = if self.parse_word("FOR") {
            Some(self.parse_user_identity()?)
        } else {
            None
        };
        self.expect_token(&Token::Eq, "'=' after SET PASSWORD")?;
        let password = if self.peek_word("PASSWORD") {
            self.parser.next_token();
            self.expect_token(&Token::LParen, "'(' after PASSWORD")?;
            let p = self.parse_string("a password string")?;
            self.expect_token(&Token::RParen, "')'")?;
            PasswordValue::Plain(p)
        } else {
            PasswordValue::Hashed(self.parse_string("PASSWORD('...') or a hashed password string")?)
        };
        Ok(SetItem::Password { user, password })
    }

    fn parse_transaction_mode(&mut self) -> Result<TransactionMode> {
        if self.parse_words(&["ISOLATION", "LEVEL"]) {
            let level = if self.parse_words(&["READ", "UNCOMMITTED"]) {
                IsolationLevel::ReadUncommitted
            } else if self.parse_words(&["READ", "COMMITTED"]) {
                IsolationLevel::ReadCommitted
            } else if self.parse_words(&["REPEATABLE", "READ"]) {
                IsolationLevel::RepeatableRead
            } else if self.parse_word("SERIALIZABLE") {
                IsolationLevel::Serializable
            } else {
                return Err(self.expected(
                    "READ UNCOMMITTED, READ COMMITTED, REPEATABLE READ or SERIALIZABLE",
                ));
            };
            return Ok(TransactionMode::IsolationLevel(level));
        }
        if self.parse_words(&["READ", "ONLY"]) {
            return Ok(TransactionMode::ReadOnly);
        }
        if self.parse_words(&["READ", "WRITE"]) {
            return Ok(TransactionMode::ReadWrite);
        }
        Err(self.expected("ISOLATION LEVEL, READ ONLY or READ WRITE"))
    }
}
