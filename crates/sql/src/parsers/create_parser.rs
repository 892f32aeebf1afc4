//! `CREATE DATABASE|SCHEMA`, `CREATE TABLE` (spec 3.1), `CREATE USER`; other
//! CREATEs go to sqlparser. The partition/distribution helpers are shared with
//! `ALTER TABLE ... ADD PARTITION`.

use sqlparser::tokenizer::Token;

use crate::parser::{ParserContext, Result};
use crate::statement::Statement;
use crate::statements::table::{
    AggType, ColumnDef, ColumnTypeDef, CreateTable, DecimalKind, DefaultValue, DistributionDesc,
    KeysDesc, KeysType, PartitionBound, PartitionDef, PartitionDesc, PartitionEvery,
    PartitionValues, SinglePartition,
};

const TYPE_NAMES: &str = "a column type (BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, LARGEINT, \
     FLOAT, DOUBLE, DECIMAL, DATE, DATETIME, CHAR, VARCHAR, STRING)";

impl ParserContext {
    /// `CREATE ...`
    pub(crate) fn parse_create(&mut self) -> Result<Statement> {
        if self.peek_nth_word(1, "DATABASE") || self.peek_nth_word(1, "SCHEMA") {
            self.parser.next_token();
            self.parser.next_token();
            let if_not_exists = self.parse_words(&["IF", "NOT", "EXISTS"]);
            let name = self.parse_ident("database name")?;
            let properties = if self.parse_word("PROPERTIES") {
                self.parse_kv_list()?
            } else {
                Vec::new()
            };
            return Ok(Statement::CreateDatabase {
                name,
                if_not_exists,
                properties,
            });
        }
        if self.peek_nth_word(1, "TABLE") {
            self.parser.next_token();
            self.parser.next_token();
            return Ok(Statement::CreateTable(Box::new(
                self.parse_create_table_body()?,
            )));
        }
        if self.peek_nth_word(1, "USER") {
            self.parser.next_token();
            self.parser.next_token();
            return self.parse_create_user_body();
        }
        self.parse_with_sqlparser()
    }

    /// After `CREATE TABLE`.
    fn parse_create_table_body(&mut self) -> Result<CreateTable> {
        let if_not_exists = self.parse_words(&["IF", "NOT", "EXISTS"]);
        let name = self.parse_table_name()?;
        self.expect_token(&Token::LParen, "'(' before the column list")?;
        let columns = self.comma_separated(|p| p.parse_column_def())?;
        self.expect_token(&Token::RParen, "',' or ')' after a column definition")?;

        let engine = if self.parse_word("ENGINE") {
            let _ = self.consume(&Token::Eq);
            Some(self.parse_ident("an engine name after ENGINE =")?)
        } else {
            None
        };

        let keys_type = if self.parse_words(&["DUPLICATE", "KEY"]) {
            Some(KeysType::Duplicate)
        } else if self.parse_words(&["AGGREGATE", "KEY"]) {
            Some(KeysType::Aggregate)
        } else if self.parse_words(&["UNIQUE", "KEY"]) {
            Some(KeysType::Unique)
        } else if self.parse_words(&["PRIMARY", "KEY"]) {
            Some(KeysType::Primary)
        } else {
            None
        };
        let keys = match keys_type {
            Some(keys_type) => Some(KeysDesc {
                keys_type,
                columns: self.parse_parenthesized_idents("key column name")?,
            }),
            None => None,
        };

        let comment = if self.parse_word("COMMENT") {
            Some(self.parse_string("a comment string after COMMENT")?)
        } else {
            None
        };

        let partition = if self.parse_words(&["PARTITION", "BY"]) {
            Some(self.parse_partition_desc()?)
        } else {
            None
        };

        let distribution = self.parse_opt_distribution()?;

        let order_by = if self.parse_words(&["ORDER", "BY"]) {
            self.parse_parenthesized_idents("sort column name")?
        } else {
            Vec::new()
        };

        let properties = if self.parse_word("PROPERTIES") {
            self.parse_kv_list()?
        } else {
            Vec::new()
        };

        Ok(CreateTable {
            if_not_exists,
            name,
            columns,
            engine,
            keys,
            comment,
            partition,
            distribution,
            order_by,
            properties,
        })
    }

    fn parse_column_def(&mut self) -> Result<ColumnDef> {
        let name = self.parse_ident("a column name")?;
        let data_type = self.parse_column_type()?;
        let agg_type = match &self.parser.peek_token_ref().token {
            Token::Word(w) if w.quote_style.is_none() => AggType::from_name(&w.value),
            _ => None,
        };
        if agg_type.is_some() {
            self.parser.next_token();
        }
        let nullable = if self.parse_words(&["NOT", "NULL"]) {
            Some(false)
        } else if self.parse_word("NULL") {
            Some(true)
        } else {
            None
        };
        let default = if self.parse_word("DEFAULT") {
            Some(self.parse_default_value()?)
        } else {
            None
        };
        let comment = if self.parse_word("COMMENT") {
            Some(self.parse_string("a comment string after COMMENT")?)
        } else {
            None
        };
        Ok(ColumnDef {
            name,
            data_type,
            agg_type,
            nullable,
            default,
            comment,
        })
    }

    /// A [`ColumnTypeDef`].
    pub(crate) fn parse_column_type(&mut self) -> Result<ColumnTypeDef> {
        let word = match &self.parser.peek_token_ref().token {
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            _ => return Err(self.expected(TYPE_NAMES)),
        };
        let (ty, int_width) = match word.as_str() {
            "BOOLEAN" | "BOOL" => (ColumnTypeDef::Boolean, false),
            "TINYINT" => (ColumnTypeDef::TinyInt, true),
            "SMALLINT" => (ColumnTypeDef::SmallInt, true),
            "INT" | "INTEGER" => (ColumnTypeDef::Int, true),
            "BIGINT" => (ColumnTypeDef::BigInt, true),
            "LARGEINT" => (ColumnTypeDef::LargeInt, true),
            "FLOAT" => (ColumnTypeDef::Float, false),
            "DOUBLE" => (ColumnTypeDef::Double, false),
            "DATE" => (ColumnTypeDef::Date, false),
            "DATETIME" => (ColumnTypeDef::DateTime, false),
            "STRING" => (ColumnTypeDef::String, false),
            "CHAR" | "VARCHAR" => {
                self.parser.next_token();
                let len = self.parse_opt_type_length(&word)?;
                return Ok(if word == "CHAR" {
                    ColumnTypeDef::Char(len)
                } else {
                    ColumnTypeDef::Varchar(len)
                });
            }
            "DECIMAL" | "DECIMALV2" | "DECIMAL32" | "DECIMAL64" | "DECIMAL128" => {
                let kind = match word.as_str() {
                    "DECIMALV2" => DecimalKind::DecimalV2,
                    "DECIMAL32" => DecimalKind::Decimal32,
                    "DECIMAL64" => DecimalKind::Decimal64,
                    "DECIMAL128" => DecimalKind::Decimal128,
                    _ => DecimalKind::Decimal,
                };
                self.parser.next_token();
                let (mut precision, mut scale) = (None, None);
                if self.consume(&Token::LParen) {
                    precision = Some(self.parse_u32("a decimal precision")?);
                    if self.consume(&Token::Comma) {
                        scale = Some(self.parse_u32("a decimal scale")?);
                    }
                    self.expect_token(&Token::RParen, "')' after the decimal precision/scale")?;
                }
                return Ok(ColumnTypeDef::Decimal {
                    kind,
                    precision,
                    scale,
                });
            }
            _ => return Err(self.expected(TYPE_NAMES)),
        };
        self.parser.next_token();
        if int_width && self.consume(&Token::LParen) {
            // Display width, e.g. `INT(11)` from SHOW CREATE TABLE: ignored.
            self.parse_u32("a display width")?;
            self.expect_token(&Token::RParen, "')' after the display width")?;
        }
        Ok(ty)
    }

    fn parse_opt_type_length(&mut self, type_name: &str) -> Result<Option<u32>> {
        if !self.consume(&Token::LParen) {
            return Ok(None);
        }
        let n = self.parse_u32(&format!("a length for {type_name}"))?;
        self.expect_token(&Token::RParen, &format!("')' after the {type_name} length"))?;
        Ok(Some(n))
    }

    fn parse_default_value(&mut self) -> Result<DefaultValue> {
        if self.parse_word("NULL") {
            return Ok(DefaultValue::Null);
        }
        if self.parse_word("CURRENT_TIMESTAMP") {
            // Also accept `CURRENT_TIMESTAMP()`.
            if self.peek_token_is(&Token::LParen)
                && self.parser.peek_nth_token_ref(1).token == Token::RParen
            {
                self.parser.next_token();
                self.parser.next_token();
            }
            return Ok(DefaultValue::CurrentTimestamp);
        }
        Ok(DefaultValue::Literal(self.parse_literal_text(
            "a default value (string, number, NULL or CURRENT_TIMESTAMP)",
        )?))
    }

    /// A quoted string or a (possibly negative) number; returns its text.
    fn parse_literal_text(&mut self, what: &str) -> Result<String> {
        let negative = matches!(self.parser.peek_token_ref().token, Token::Minus)
            && matches!(self.parser.peek_nth_token_ref(1).token, Token::Number(..));
        match &self.parser.peek_nth_token_ref(usize::from(negative)).token {
            Token::SingleQuotedString(_) | Token::DoubleQuotedString(_) if negative => {
                Err(self.expected(what))
            }
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => {
                let v = s.clone();
                self.parser.next_token();
                Ok(v)
            }
            Token::Number(n, _) => {
                let v = if negative { format!("-{n}") } else { n.clone() };
                if negative {
                    self.parser.next_token();
                }
                self.parser.next_token();
                Ok(v)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// `(lit, ...)`
    fn parse_literal_list(&mut self, what: &str) -> Result<Vec<String>> {
        self.expect_token(&Token::LParen, &format!("'(' before {what}"))?;
        let v = self.comma_separated(|p| p.parse_literal_text(what))?;
        self.expect_token(&Token::RParen, &format!("',' or ')' after {what}"))?;
        Ok(v)
    }

    /// After `PARTITION BY`.
    fn parse_partition_desc(&mut self) -> Result<PartitionDesc> {
        self.expect_word("RANGE", " after PARTITION BY")?;
        let columns = self.parse_parenthesized_idents("partition column name")?;
        self.expect_token(&Token::LParen, "'(' before the partition list")?;
        let partitions = if self.consume(&Token::RParen) {
            Vec::new()
        } else {
            let list = self.comma_separated(|p| p.parse_partition_def())?;
            self.expect_token(&Token::RParen, "',' or ')' after a partition definition")?;
            list
        };
        Ok(PartitionDesc {
            columns,
            partitions,
        })
    }

    fn parse_partition_def(&mut self) -> Result<PartitionDef> {
        if self.parse_word("START") {
            let start = self.parse_literal_list("the START value")?;
            self.expect_word("END", " after START (...)")?;
            let end = self.parse_literal_list("the END value")?;
            self.expect_word("EVERY", " after END (...)")?;
            self.expect_token(&Token::LParen, "'(' after EVERY")?;
            let every = if self.parse_word("INTERVAL") {
                let value = self.parse_u64("an interval length")?;
                let unit = self.parse_ident("an interval unit (DAY, MONTH, ...)")?;
                PartitionEvery {
                    value,
                    unit: Some(unit.to_ascii_uppercase()),
                }
            } else {
                PartitionEvery {
                    value: self.parse_u64("a step or INTERVAL after EVERY (")?,
                    unit: None,
                }
            };
            self.expect_token(&Token::RParen, "')' after the EVERY step")?;
            return Ok(PartitionDef::Batch { start, end, every });
        }
        if !self.parse_word("PARTITION") {
            return Err(self.expected("PARTITION or START in the partition list"));
        }
        Ok(PartitionDef::Single(self.parse_single_partition_body()?))
    }

    /// After `PARTITION`: `[IF NOT EXISTS] name VALUES ... [("k" = "v")]`.
    pub(crate) fn parse_single_partition_body(&mut self) -> Result<SinglePartition> {
        let if_not_exists = self.parse_words(&["IF", "NOT", "EXISTS"]);
        let name = self.parse_ident("a partition name")?;
        self.expect_word("VALUES", " after the partition name")?;
        let values = if self.parse_words(&["LESS", "THAN"]) {
            if self.parse_word("MAXVALUE") {
                PartitionValues::LessThan(vec![PartitionBound::MaxValue])
            } else {
                self.expect_token(&Token::LParen, "'(' or MAXVALUE after LESS THAN")?;
                let bounds = self.comma_separated(|p| {
                    if p.parse_word("MAXVALUE") {
                        Ok(PartitionBound::MaxValue)
                    } else {
                        p.parse_literal_text("a partition bound value or MAXVALUE")
                            .map(PartitionBound::Value)
                    }
                })?;
                self.expect_token(&Token::RParen, "',' or ')' after the partition bound")?;
                PartitionValues::LessThan(bounds)
            }
        } else if self.consume(&Token::LBracket) {
            let lower = self.parse_literal_list("the lower bound")?;
            self.expect_token(&Token::Comma, "',' between the lower and upper bounds")?;
            let upper = self.parse_literal_list("the upper bound")?;
            self.expect_token(&Token::RParen, "')' closing the range [lower, upper)")?;
            PartitionValues::Fixed { lower, upper }
        } else {
            return Err(self.expected("LESS THAN or '[' after VALUES"));
        };
        let properties = if self.peek_token_is(&Token::LParen) {
            self.parse_kv_list()?
        } else {
            Vec::new()
        };
        Ok(SinglePartition {
            name,
            if_not_exists,
            values,
            properties,
        })
    }

    /// Optional `DISTRIBUTED BY HASH(cols) [BUCKETS n]` / `DISTRIBUTED BY RANDOM [BUCKETS n]`.
    pub(crate) fn parse_opt_distribution(&mut self) -> Result<Option<DistributionDesc>> {
        if !self.parse_word("DISTRIBUTED") {
            return Ok(None);
        }
        self.expect_word("BY", " after DISTRIBUTED")?;
        if self.parse_word("HASH") {
            let columns = self.parse_parenthesized_idents("distribution column name")?;
            let buckets = self.parse_opt_buckets()?;
            Ok(Some(DistributionDesc::Hash { columns, buckets }))
        } else if self.parse_word("RANDOM") {
            let buckets = self.parse_opt_buckets()?;
            Ok(Some(DistributionDesc::Random { buckets }))
        } else {
            Err(self.expected("HASH or RANDOM after DISTRIBUTED BY"))
        }
    }

    fn parse_opt_buckets(&mut self) -> Result<Option<u32>> {
        if !self.parse_word("BUCKETS") {
            return Ok(None);
        }
        if let Token::Number(n, _) = &self.parser.peek_token_ref().token
            && let Ok(b) = n.parse::<u32>()
            && b > 0
        {
            self.parser.next_token();
            return Ok(Some(b));
        }
        Err(self.expected("a positive bucket number after BUCKETS"))
    }
}
