//! StarRocks-style `key = value` config files and the typed configs declared from one list.
//!
//! Each config struct is declared once with [`define_config!`]: name, type, default, whether it
//! can change at run time (`ADMIN SET FRONTEND CONFIG`) and a doc line. From that single list we
//! get the struct, its `Default`, the parser of `fe.conf`/`be.conf`, the rows of
//! `ADMIN SHOW FRONTEND CONFIG` and `docs/config.md`, so they cannot drift apart.
//!
//! File syntax (the same files StarRocks's shell scripts `source`): `#` comment lines, `key =
//! value` lines, one layer of matching quotes stripped from values, `${NAME}` expanded from keys
//! set earlier in the file and then from the environment. Keys we do not know (StarRocks's
//! `JAVA_OPTS`, `LOG_DIR`, ...) are reported as warnings, not errors, so an existing `fe.conf`
//! can be used as it is. A bad value for a known key is an error that names the file and line.

use std::collections::HashMap;
use std::path::Path;

use crate::error::Error;
use crate::error::Result;

pub mod be;
pub mod fe;

/// A value type that a config key can hold.
pub trait ConfigValue: Sized {
    /// The type name shown in `ADMIN SHOW FRONTEND CONFIG` (StarRocks's Java names).
    const TYPE_NAME: &'static str;
    /// Parses a value as written in a file or statement.
    fn parse_value(s: &str) -> std::result::Result<Self, String>;
    /// Renders the value as `ADMIN SHOW FRONTEND CONFIG` shows it.
    fn render(&self) -> String;
}

impl ConfigValue for String {
    const TYPE_NAME: &'static str = "String";
    fn parse_value(s: &str) -> std::result::Result<Self, String> {
        Ok(s.to_string())
    }
    fn render(&self) -> String {
        self.clone()
    }
}

impl ConfigValue for bool {
    const TYPE_NAME: &'static str = "boolean";
    fn parse_value(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("expected true or false, got '{s}'")),
        }
    }
    fn render(&self) -> String {
        self.to_string()
    }
}

macro_rules! int_value {
    ($ty:ty, $name:literal) => {
        impl ConfigValue for $ty {
            const TYPE_NAME: &'static str = $name;
            fn parse_value(s: &str) -> std::result::Result<Self, String> {
                s.trim().parse::<$ty>().map_err(|_| {
                    format!(
                        "expected an integer between {} and {}, got '{s}'",
                        <$ty>::MIN,
                        <$ty>::MAX
                    )
                })
            }
            fn render(&self) -> String {
                self.to_string()
            }
        }
    };
}
int_value!(i32, "int");
int_value!(i64, "long");

impl ConfigValue for f64 {
    const TYPE_NAME: &'static str = "double";
    fn parse_value(s: &str) -> std::result::Result<Self, String> {
        match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("expected a number, got '{s}'")),
        }
    }
    fn render(&self) -> String {
        self.to_string()
    }
}

/// What is known about one config key.
#[derive(Clone, Copy, Debug)]
pub struct ConfigKeyInfo {
    /// The key, as written in the file.
    pub name: &'static str,
    /// The Java-style type name.
    pub type_name: &'static str,
    /// Whether `ADMIN SET FRONTEND CONFIG` may change it at run time.
    pub mutable: bool,
    /// The default, as written in a file.
    pub default: &'static str,
    /// One line saying what it is for.
    pub comment: &'static str,
}

/// Declares a config struct from one list of keys.
#[macro_export]
macro_rules! define_config {
    (
        $(#[$smeta:meta])*
        pub struct $name:ident {
            $(
                #[doc = $doc:literal]
                $field:ident : $ty:ty = $default:literal, mutable = $mutable:literal;
            )*
        }
    ) => {
        $(#[$smeta])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            $(
                #[doc = $doc]
                pub $field: $ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $(
                        $field: <$ty as $crate::config::ConfigValue>::parse_value($default)
                            .expect(concat!("the default of ", stringify!($field), " parses")),
                    )*
                }
            }
        }

        impl $name {
            /// Every key, in declaration order.
            pub const KEYS: &'static [$crate::config::ConfigKeyInfo] = &[
                $(
                    $crate::config::ConfigKeyInfo {
                        name: stringify!($field),
                        type_name: <$ty as $crate::config::ConfigValue>::TYPE_NAME,
                        mutable: $mutable,
                        default: $default,
                        comment: $doc,
                    },
                )*
            ];

            /// Looks a key up.
            pub fn key_info(key: &str) -> Option<&'static $crate::config::ConfigKeyInfo> {
                Self::KEYS.iter().find(|k| k.name == key)
            }

            /// Sets a key from its text form; the error says why the value is bad.
            pub fn set(&mut self, key: &str, value: &str) -> std::result::Result<(), String> {
                match key {
                    $(
                        stringify!($field) => {
                            self.$field = <$ty as $crate::config::ConfigValue>::parse_value(value)?;
                            Ok(())
                        }
                    )*
                    _ => Err(format!("unknown config key '{key}'")),
                }
            }

            /// The text form of a key's value.
            pub fn get(&self, key: &str) -> Option<String> {
                match key {
                    $(
                        stringify!($field) =>
                            Some(<$ty as $crate::config::ConfigValue>::render(&self.$field)),
                    )*
                    _ => None,
                }
            }
        }

        impl $crate::config::ConfigStruct for $name {
            fn set_key(&mut self, key: &str, value: &str) -> std::result::Result<(), String> {
                self.set(key, value)
            }
            fn knows(key: &str) -> bool {
                Self::key_info(key).is_some()
            }
        }
    };
}

/// One `key = value` line of a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfLine {
    /// The key.
    pub key: String,
    /// The value after quote stripping (expansion is done by [`load_into`]).
    pub value: String,
    /// 1-based line number.
    pub line: usize,
}

/// Splits a config file's text into key/value lines.
pub fn parse_conf_text(text: &str, file: &str) -> Result<Vec<ConfLine>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error::invalid(format!(
                "{file}:{}: expected 'key = value', got '{line}'",
                i + 1
            )));
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(Error::invalid(format!(
                "{file}:{}: '{key}' is not a valid config key",
                i + 1
            )));
        }
        out.push(ConfLine {
            key: key.to_string(),
            value: strip_quotes(value.trim()).to_string(),
            line: i + 1,
        });
    }
    Ok(out)
}

fn strip_quotes(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Expands `${NAME}` from `vars` and then the environment.
pub fn expand_vars(
    value: &str,
    vars: &HashMap<String, String>,
) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated '${{' in '{value}'"));
        };
        let name = &after[..end];
        let resolved = vars
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
            .ok_or_else(|| {
                format!(
                    "'${{{name}}}' is not set (neither earlier in the file nor in the environment)"
                )
            })?;
        out.push_str(&resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Something [`load_into`] can fill: a struct declared with [`define_config!`].
pub trait ConfigStruct: Default {
    /// Sets one key from its text.
    fn set_key(&mut self, key: &str, value: &str) -> std::result::Result<(), String>;
    /// Whether the key is known.
    fn knows(key: &str) -> bool;
}

/// Reads a config file into `config`; returns warnings about keys Tessera does not know.
///
/// `home` is what `${STARROCKS_HOME}` and `${TESSERA_HOME}` mean when the environment does not
/// set them.
pub fn load_into<C: ConfigStruct>(config: &mut C, path: &Path, home: &Path) -> Result<Vec<String>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("read config file {file}"), e))?;
    let mut vars: HashMap<String, String> = HashMap::new();
    let home_str = home.display().to_string();
    for name in ["STARROCKS_HOME", "TESSERA_HOME"] {
        let value = std::env::var(name).unwrap_or_else(|_| home_str.clone());
        vars.insert(name.to_string(), value);
    }
    let mut warnings = Vec::new();
    for line in parse_conf_text(&text, &file)? {
        if !C::knows(&line.key) {
            vars.insert(line.key.clone(), line.value.clone());
            warnings.push(format!(
                "{file}:{}: unknown key '{}' ignored",
                line.line, line.key
            ));
            continue;
        }
        let value = expand_vars(&line.value, &vars)
            .map_err(|e| Error::invalid(format!("{file}:{}: {}: {e}", line.line, line.key)))?;
        config
            .set_key(&line.key, &value)
            .map_err(|e| Error::invalid(format!("{file}:{}: {}: {e}", line.line, line.key)))?;
        vars.insert(line.key.clone(), value);
    }
    Ok(warnings)
}

/// Expands `${STARROCKS_HOME}`/`${TESSERA_HOME}` in a default value such as `meta_dir`.
pub fn expand_home(value: &str, home: &Path) -> String {
    let mut vars = HashMap::new();
    let home_str = home.display().to_string();
    for name in ["STARROCKS_HOME", "TESSERA_HOME"] {
        vars.insert(
            name.to_string(),
            std::env::var(name).unwrap_or_else(|_| home_str.clone()),
        );
    }
    expand_vars(value, &vars).unwrap_or_else(|_| value.to_string())
}

/// Renders a markdown table of keys (for `docs/config.md`).
pub fn markdown_table(title: &str, keys: &[ConfigKeyInfo]) -> String {
    let mut s = format!(
        "## {title}\n\n| key | type | default | mutable | what it is for |\n|---|---|---|---|---|\n"
    );
    for k in keys {
        let default = if k.default.is_empty() {
            "(empty)".to_string()
        } else {
            format!("`{}`", k.default)
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            k.name,
            k.type_name,
            default,
            k.mutable,
            k.comment.trim()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_starrocks_style_lines() {
        let text = "# comment\nmeta_dir = ${STARROCKS_HOME}/meta\nJAVA_OPTS=\"-Xmx8g -Dx=y\"\n\nhttp_port = 8030\nname = 'quoted'\n";
        let lines = parse_conf_text(text, "fe.conf").expect("parses");
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[1].value, "-Xmx8g -Dx=y");
        assert_eq!(lines[2].line, 5);
        assert_eq!(lines[3].value, "quoted");
    }

    #[test]
    fn rejects_line_without_equals() {
        let err = parse_conf_text("http_port 8030\n", "fe.conf").expect_err("bad line");
        assert!(err.message.contains("fe.conf:1"), "{}", err.message);
    }

    #[test]
    fn expands_earlier_keys_then_env() {
        let mut vars = HashMap::new();
        vars.insert("LOG_DIR".to_string(), "/x/log".to_string());
        assert_eq!(
            expand_vars("${LOG_DIR}/fe.log", &vars).expect("expands"),
            "/x/log/fe.log"
        );
        let err = expand_vars("${NOPE_NOT_SET_ANYWHERE_123}/a", &vars).expect_err("unset");
        assert!(err.contains("NOPE_NOT_SET_ANYWHERE_123"));
        assert!(expand_vars("${oops", &vars).is_err());
    }
}
