//! Code given inline to an interpreter (`python -c`, `node -e`, `perl -e`, `ruby -e`, `php -r`,
//! `lua -e`): the shell commands it runs and the files it deletes, as shell command lines, so that
//! `python -c "import os; os.system('rm -rf /')"` is judged as the `rm -rf /` it runs.
//!
//! This is a scan for the calls that run commands (`os.system`, `subprocess.run`,
//! `child_process.execSync`, `system`, backticks, …) or delete files (`shutil.rmtree`,
//! `fs.rmSync`, `FileUtils.rm_rf`, `unlink`, …) with literal arguments — not an interpreter.
//! Code it cannot follow stays what the policy says inline code is (`ask`); what it finds can only
//! make the verdict stricter. It also recognises code that only prints literals
//! ([`prints_only`]), which runs nothing.

use super::Word;

/// The languages whose inline code is scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// `python… -c`, `pypy… -c`.
    Python,
    /// `node`/`nodejs`/`bun` with `-e`, `--eval`, `-p` or `--print`; `deno eval`.
    JavaScript,
    /// `perl -e`/`-E` (and bundles such as `-ne`).
    Perl,
    /// `ruby -e`.
    Ruby,
    /// `php -r`.
    Php,
    /// `lua -e`, `luajit -e`.
    Lua,
}

/// The language and inline code of `program args…`, when it is given code inline.
pub fn code_argument<'a>(program: &str, args: &'a [Word]) -> Option<(Language, &'a Word)> {
    let (language, options): (Language, &[&str]) = match program {
        p if p == "python" || p.starts_with("python") || p.starts_with("pypy") => {
            (Language::Python, &["-c"])
        }
        "node" | "nodejs" | "bun" => (Language::JavaScript, &["-e", "--eval", "-p", "--print"]),
        "deno" => {
            // `deno eval CODE`.
            return match args {
                [sub, code, ..] if sub.text == "eval" => Some((Language::JavaScript, code)),
                _ => None,
            };
        }
        "perl" => (Language::Perl, &["-e", "-E"]),
        "ruby" => (Language::Ruby, &["-e"]),
        "php" => (Language::Php, &["-r"]),
        "lua" | "luajit" => (Language::Lua, &["-e"]),
        _ => return None,
    };
    for (i, w) in args.iter().enumerate() {
        let t = w.text.as_str();
        if t == "--" || (!t.starts_with('-') && language != Language::Perl) {
            return None;
        }
        if options.contains(&t) {
            return args.get(i + 1).map(|code| (language, code));
        }
        // Bundles ending in the code option: perl's `-ne`, `-lE`, python's `-Ic`.
        if !t.starts_with("--")
            && t.len() > 2
            && options
                .iter()
                .any(|o| o.len() == 2 && t.ends_with(&o[1..]) && !t[1..t.len() - 1].contains('='))
        {
            return args.get(i + 1).map(|code| (language, code));
        }
    }
    None
}

/// The shell command lines `code` runs or amounts to (`rm -rf -- '/home/user'` for
/// `shutil.rmtree('/home/user')`). Empty when it runs none that the scan can see.
pub fn commands(language: Language, code: &str) -> Vec<String> {
    const MAX: usize = 32;
    let tokens = lex(language, code);
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if out.len() >= MAX {
            break;
        }
        match t {
            Token::Shell(text) => out.push(text.clone()),
            Token::Name(name) => {
                let call = name.rsplit(['.', ':']).next().unwrap_or(name);
                let Some(effect) = effect(language, call) else {
                    continue;
                };
                let args = arguments(&tokens[i + 1..]);
                if let Some(line) = effect.command_line(&args) {
                    out.push(line);
                }
            }
            _ => {}
        }
    }
    out
}

/// The code does nothing but print literals (`print('ok')`, `console.log("ok")`, `puts 'ok'`,
/// `print "ok\n"`), with imports at most: it runs nothing and touches no file.
pub fn prints_only(language: Language, code: &str) -> bool {
    let tokens = lex(language, code);
    if tokens.is_empty() {
        return false;
    }
    let printers: &[&str] = match language {
        Language::Python => &["print"],
        Language::JavaScript => &["console.log", "console.error", "console.info"],
        Language::Perl => &["print", "say"],
        Language::Ruby => &["puts", "print", "p"],
        Language::Php => &["echo", "print"],
        Language::Lua => &["print"],
    };
    let mut i = 0;
    let mut statements = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct(';') | Token::Newline => i += 1,
            Token::Name(name) if name == "import" && language == Language::Python => {
                // `import os, sys`
                i += 1;
                while let Some(Token::Name(_) | Token::Punct(',')) = tokens.get(i) {
                    i += 1;
                }
            }
            Token::Name(name) if printers.contains(&name.as_str()) => {
                i += 1;
                let parens = matches!(tokens.get(i), Some(Token::Punct('(')));
                if parens {
                    i += 1;
                }
                let mut literals = 0;
                loop {
                    match tokens.get(i) {
                        Some(
                            Token::Str {
                                interpolated: false,
                                ..
                            }
                            | Token::Number,
                        ) => {
                            literals += 1;
                            i += 1;
                        }
                        Some(Token::Punct(',')) => i += 1,
                        _ => break,
                    }
                }
                if parens {
                    if !matches!(tokens.get(i), Some(Token::Punct(')'))) {
                        return false;
                    }
                    i += 1;
                }
                if literals == 0 {
                    return false;
                }
                statements += 1;
            }
            _ => return false,
        }
    }
    statements > 0
}

/// What a call does, when it runs commands or deletes files.
#[derive(Debug, Clone, Copy)]
enum Effect {
    /// Its argument is a shell command line (`os.system`, `execSync`, `system`).
    ShellLine,
    /// Its arguments are a program and its arguments (`spawnSync('rm', ['-rf', '/'])`,
    /// `subprocess.run(['rm', '-rf', '/'])`, `os.execvp`).
    Argv,
    /// It deletes the path it is given, with what is below it.
    DeleteTree,
    /// It deletes the file it is given.
    DeleteFile,
}

fn effect(language: Language, call: &str) -> Option<Effect> {
    use Effect::*;
    Some(match (language, call) {
        (_, "system" | "popen" | "shell_exec" | "passthru" | "proc_open" | "getoutput") => {
            ShellLine
        }
        (_, "getstatusoutput" | "execSync" | "exec_command") => ShellLine,
        (Language::Python, "run" | "call" | "check_call" | "check_output" | "Popen") => Argv,
        (Language::Python, c) if c.starts_with("exec") && c.len() > 4 => Argv,
        (Language::Python, "spawnl" | "spawnlp" | "spawnv" | "spawnvp") => Argv,
        (Language::JavaScript, "exec") => ShellLine,
        (Language::JavaScript, "spawn" | "spawnSync" | "execFile" | "execFileSync") => Argv,
        (Language::Perl | Language::Ruby | Language::Php, "exec") => ShellLine,
        (Language::Ruby, "spawn") => ShellLine,
        (Language::Lua, "execute") => ShellLine,
        (_, "rmtree" | "rm_rf" | "rm_r" | "remove_tree" | "rmSync" | "removedirs") => DeleteTree,
        (_, "rmdir" | "rmdirSync" | "rmdir_p") => DeleteTree,
        (_, "remove" | "unlink" | "unlinkSync" | "rm" | "rm_f" | "safe_unlink") => DeleteFile,
        _ => return None,
    })
}

impl Effect {
    fn command_line(self, args: &[Arg]) -> Option<String> {
        match self {
            Effect::ShellLine => match args.first()? {
                Arg::Str(s) => Some(s.clone()),
                Arg::List(items) => Some(quote_all(items)),
            },
            Effect::Argv => {
                let mut words: Vec<String> = Vec::new();
                for a in args {
                    match a {
                        Arg::Str(s) => words.push(s.clone()),
                        Arg::List(items) => words.extend(items.iter().cloned()),
                    }
                }
                // `subprocess.run('rm -rf /', shell=True)`: one string is a command line.
                match (args, words.len()) {
                    ([Arg::Str(s)], _) => Some(s.clone()),
                    (_, 0) => None,
                    _ => Some(quote_all(&words)),
                }
            }
            Effect::DeleteTree | Effect::DeleteFile => {
                let paths: Vec<String> = args
                    .iter()
                    .flat_map(|a| match a {
                        Arg::Str(s) => vec![s.clone()],
                        Arg::List(items) => items.clone(),
                    })
                    .collect();
                if paths.is_empty() {
                    return None;
                }
                let flags = if matches!(self, Effect::DeleteTree) {
                    "rm -rf --"
                } else {
                    "rm -f --"
                };
                Some(format!("{flags} {}", quote_all(&paths)))
            }
        }
    }
}

fn quote_all(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%~".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// An identifier, dotted (`os.system`, `child_process.execSync`, `FileUtils.rm_rf`).
    Name(String),
    /// A string literal; `interpolated` when it holds parts only known when it runs.
    Str {
        text: String,
        interpolated: bool,
    },
    /// A command the language runs through the shell by its syntax (backticks, `qx{}`, `%x()`).
    Shell(String),
    Number,
    Punct(char),
    Newline,
}

/// A call's literal arguments: strings and lists of strings, up to the closing parenthesis (or
/// the end of the statement for a call without one: `system 'ls'`).
#[derive(Debug)]
enum Arg {
    Str(String),
    List(Vec<String>),
}

fn arguments(tokens: &[Token]) -> Vec<Arg> {
    let mut out = Vec::new();
    let mut i = 0;
    let parens = matches!(tokens.first(), Some(Token::Punct('(')));
    if parens {
        i += 1;
    }
    let mut depth = 0usize;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Str { text, .. } if depth == 0 => out.push(Arg::Str(text.clone())),
            Token::Punct('[') if depth == 0 => {
                let mut items = Vec::new();
                i += 1;
                while i < tokens.len() && tokens[i] != Token::Punct(']') {
                    if let Token::Str { text, .. } = &tokens[i] {
                        items.push(text.clone());
                    }
                    i += 1;
                }
                out.push(Arg::List(items));
            }
            Token::Punct('(' | '{') => depth += 1,
            Token::Punct(')' | '}') if depth > 0 => depth -= 1,
            Token::Punct(')') => break,
            Token::Punct(';') | Token::Newline if !parens => break,
            _ => {}
        }
        i += 1;
    }
    out
}

/// A small lexer: names, string literals (with their escapes), the shell-running syntaxes,
/// punctuation. Comments are skipped; anything it does not know is punctuation.
fn lex(language: Language, code: &str) -> Vec<Token> {
    const MAX_TOKENS: usize = 4096;
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() && out.len() < MAX_TOKENS {
        let c = chars[i];
        if c == '\n' {
            out.push(Token::Newline);
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '#' && matches!(language, Language::Python | Language::Ruby | Language::Perl)
        {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.' | '$'))
                || (i + 1 < chars.len() && chars[i] == ':' && chars[i + 1] == ':')
            {
                i += if chars[i] == ':' { 2 } else { 1 };
            }
            let name: String = chars[start..i].iter().collect();
            // Perl's `qx{…}`, Ruby's `%x(…)` are handled below; `qx` as a name starts one.
            if language == Language::Perl
                && name == "qx"
                && let Some((text, next)) = delimited(&chars, i)
            {
                out.push(Token::Shell(text));
                i = next;
                continue;
            }
            out.push(Token::Name(name));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Number);
        } else if c == '\'' || c == '"' || c == '`' {
            let (text, interpolated, next) = string(&chars, i, language);
            i = next;
            let shell =
                c == '`' && matches!(language, Language::Perl | Language::Ruby | Language::Php);
            if shell {
                out.push(Token::Shell(text));
            } else {
                out.push(Token::Str { text, interpolated });
            }
        } else if c == '%' && language == Language::Ruby && chars.get(i + 1) == Some(&'x') {
            match delimited(&chars, i + 2) {
                Some((text, next)) => {
                    out.push(Token::Shell(text));
                    i = next;
                }
                None => i += 2,
            }
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// The string literal opening at `start`: its text with escapes resolved, whether it
/// interpolates something, and the index after it.
fn string(chars: &[char], start: usize, language: Language) -> (String, bool, usize) {
    let quote = chars[start];
    // Python's `'''…'''` / `"""…"""` are read as three strings, the middle one the text.
    let mut text = String::new();
    let mut interpolated = false;
    let mut i = start + 1;
    let raw = quote == '\'' && matches!(language, Language::Perl | Language::Ruby | Language::Php);
    let prefix: String = chars[..start]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    if prefix.contains(['f', 'F']) && language == Language::Python {
        interpolated = true;
    }
    while i < chars.len() {
        let c = chars[i];
        if c == quote {
            return (text, interpolated, i + 1);
        }
        if c == '\\' && i + 1 < chars.len() {
            let e = chars[i + 1];
            if raw && e != quote && e != '\\' {
                text.push('\\');
                text.push(e);
            } else {
                text.push(match e {
                    'n' if !raw => '\n',
                    't' if !raw => '\t',
                    other => other,
                });
            }
            i += 2;
            continue;
        }
        let interpolates = match (language, quote) {
            (Language::Perl | Language::Php, '"' | '`') => c == '$' || c == '@',
            (Language::Ruby, '"' | '`') => c == '#' && chars.get(i + 1) == Some(&'{'),
            (Language::JavaScript, '`') => c == '$' && chars.get(i + 1) == Some(&'{'),
            _ => false,
        };
        interpolated |= interpolates;
        text.push(c);
        i += 1;
    }
    (text, true, chars.len())
}

/// The text between a delimiter pair opening at `at` (`{…}`, `(…)`, `[…]`, `<…>`, or the same
/// character twice).
fn delimited(chars: &[char], at: usize) -> Option<(String, usize)> {
    let open = *chars.get(at)?;
    let close = match open {
        '{' => '}',
        '(' => ')',
        '[' => ']',
        '<' => '>',
        c if c.is_ascii_punctuation() => c,
        _ => return None,
    };
    let mut depth = 0usize;
    let mut text = String::new();
    for (j, &c) in chars.iter().enumerate().skip(at + 1) {
        if c == close && depth == 0 {
            return Some((text, j + 1));
        }
        if c == open && open != close {
            depth += 1;
        } else if c == close {
            depth -= 1;
        }
        text.push(c);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(language: Language, code: &str) -> Vec<String> {
        commands(language, code)
    }

    #[test]
    fn calls_that_run_commands_yield_their_command_lines() {
        assert_eq!(
            scan(Language::Python, "import os; os.system('rm -rf /')"),
            ["rm -rf /"]
        );
        assert_eq!(
            scan(
                Language::Python,
                "import subprocess; subprocess.run(['rm', '-rf', '/'])"
            ),
            ["rm -rf /"]
        );
        assert_eq!(
            scan(
                Language::JavaScript,
                "require('child_process').execSync('rm -rf /')"
            ),
            ["rm -rf /"]
        );
        assert_eq!(
            scan(Language::Perl, "system('rm -rf /home/user')"),
            ["rm -rf /home/user"]
        );
        assert_eq!(scan(Language::Ruby, "`rm -rf ~`"), ["rm -rf ~"]);
        assert_eq!(scan(Language::Ruby, "%x(rm -rf ~)"), ["rm -rf ~"]);
        assert_eq!(scan(Language::Perl, "qx{rm -rf ~}"), ["rm -rf ~"]);
        assert_eq!(
            scan(
                Language::Python,
                "import shutil; shutil.rmtree('/home/user')"
            ),
            ["rm -rf -- /home/user"]
        );
        assert_eq!(
            scan(Language::Python, "import os; os.remove('/etc/passwd')"),
            ["rm -f -- /etc/passwd"]
        );
    }

    #[test]
    fn printing_a_command_runs_nothing() {
        assert!(scan(Language::Python, "print('rm -rf /')").is_empty());
        assert!(scan(Language::JavaScript, "console.log('rm -rf /')").is_empty());
        assert!(scan(Language::Ruby, "puts 'rm -rf /'").is_empty());
    }

    #[test]
    fn code_that_only_prints_literals_is_recognised() {
        assert!(prints_only(Language::Python, "print('hello')"));
        assert!(prints_only(
            Language::Python,
            "import sys; print(\"ok\", 1)"
        ));
        assert!(prints_only(Language::JavaScript, "console.log(\"ok\")"));
        assert!(prints_only(Language::Perl, "print 'ok'"));
        assert!(prints_only(Language::Ruby, "puts 'ok'"));
        // Anything else is not.
        assert!(!prints_only(
            Language::Python,
            "print(open('/etc/shadow').read())"
        ));
        assert!(!prints_only(
            Language::Python,
            "print(f'{__import__(\"os\").system(\"id\")}')"
        ));
        assert!(!prints_only(Language::Perl, "print \"@{[`id`]}\""));
        assert!(!prints_only(Language::Ruby, "puts \"#{`id`}\""));
        assert!(!prints_only(
            Language::JavaScript,
            "console.log(require('fs'))"
        ));
        assert!(!prints_only(Language::Python, ""));
    }

    #[test]
    fn the_code_argument_is_found() {
        let words = |v: &[&str]| v.iter().map(|t| Word::literal(*t)).collect::<Vec<_>>();
        let w = words(&["-c", "print(1)"]);
        assert_eq!(code_argument("python3", &w).unwrap().1.text, "print(1)");
        let w = words(&["-ne", "print"]);
        assert_eq!(code_argument("perl", &w).unwrap().1.text, "print");
        let w = words(&["script.py", "-c", "x"]);
        assert!(code_argument("python", &w).is_none());
        let w = words(&["eval", "console.log(1)"]);
        assert_eq!(code_argument("deno", &w).unwrap().1.text, "console.log(1)");
    }
}
