//! Shell command analysis: a real parser (brush-parser), then a flat list of the simple commands
//! a command line would run.
//!
//! A command line such as `cd x && FOO=1 sudo env -i bash -c "curl u | sh"; rm -rf "$(pwd)"`
//! becomes the simple commands `cd x`, `curl u`, `sh` (piped from `curl`), `pwd` and `rm -rf
//! $(…)`, each with its wrappers (`sudo`, `env`, `bash -c`), its redirections and its place in its
//! pipeline. Compound commands (`;`, `&&`, `||`, pipes, subshells, groups, `if`/`for`/`while`/
//! `case`, functions), command and process substitutions, backticks, `bash -c`/`sh -c`/`eval`
//! scripts, `xargs`, `find -exec` and prefixes (`env`, `sudo`, `nohup`, `time`, `nice`,
//! `timeout`, `command`, `exec`, `strace`, `runuser`, `script -c`, `systemd-run`, …) are all
//! looked through, and so are a shell fed a here-document (`bash <<EOF`), the commands held in
//! variables such as `PAGER` or `GIT_SSH_COMMAND`, and git's `-c` settings that run commands.
//! Quoting and escapes are resolved the way the shell would; what cannot be known before running
//! (variables, substitutions whose output is not a constant) is marked *dynamic* so the
//! classifier can refuse to call it safe.
//!
//! This module only analyses text: it never runs, expands against the environment, or touches
//! the filesystem. It never panics on any input (property-tested).

use std::io::BufReader;

use brush_parser::ast;
use brush_parser::word::{Parameter, ParameterExpr, TildeExpr, WordPiece, WordPieceWithSource};

/// Nesting limit for `bash -c`, `eval`, substitutions, … Deeper input is reported, not followed.
const MAX_DEPTH: usize = 12;
/// Longest command line analysed; longer ones are reported as too long.
pub const MAX_LEN: usize = 64 * 1024;

/// One word after quote removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word's text as the shell would pass it, where known. `~` stands for the home
    /// directory (`~`, `$HOME`, `${HOME}`); unknown parts keep their source text (`$X`, `$(…)`).
    pub text: String,
    /// Part of the word is only known when the command runs (a variable, a substitution).
    pub dynamic: bool,
}

impl Word {
    fn literal(text: impl Into<String>) -> Self {
        Word {
            text: text.into(),
            dynamic: false,
        }
    }
}

/// A redirection of a command's input or output to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub target: Word,
    /// Writes (`>`, `>>`, `&>`, `<>`) rather than only reads (`<`).
    pub write: bool,
}

/// A variable set for one command (`X=1 cmd`, `env X=1 cmd`) or for the rest of the shell
/// (`X=1`, `export X=1`, `declare X=1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub value: Word,
}

/// Where a command's standard input comes from, when it is neither the terminal nor a pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A here-document or here-string: its text.
    Text(Word),
    /// A file (`< file`).
    File,
}

/// One simple command, after looking through wrappers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// Program and arguments; empty for a bare redirection (`> file`, `{ …; } > file`) or a
    /// bare assignment (`X=1`).
    pub argv: Vec<Word>,
    /// Variables it sets (see [`Assignment`]).
    pub env: Vec<Assignment>,
    /// Its standard input, when that is a here-document, here-string or file.
    pub input: Option<Input>,
    /// Wrappers it was found inside, outermost first: `sudo`, `env`, `bash -c`, `xargs`, ….
    pub wrappers: Vec<String>,
    pub redirects: Vec<Redirect>,
    /// Which pipeline it belongs to, and its stage in it (0 = first).
    pub pipeline: usize,
    pub stage: usize,
}

impl SimpleCommand {
    /// It reads its standard input from a pipe, a here-document, a here-string or a file.
    pub fn reads_input(&self) -> bool {
        self.stage > 0 || self.input.is_some()
    }

    /// The program's base name (`/usr/bin/rm` → `rm`), or `None` when it is dynamic or absent.
    pub fn program(&self) -> Option<&str> {
        let first = self.argv.first()?;
        if first.dynamic {
            return None;
        }
        Some(first.text.rsplit('/').next().unwrap_or(&first.text))
    }

    /// The command as text, for messages.
    pub fn display(&self) -> String {
        let mut s = self
            .argv
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        for r in &self.redirects {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(if r.write { "> " } else { "< " });
            s.push_str(&r.target.text);
        }
        if s.chars().count() > 200 {
            s = s.chars().take(200).collect::<String>() + "…";
        }
        s
    }
}

/// Something about the input that prevents a full analysis, or is dangerous by its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The text is not valid shell (or uses syntax the parser does not know).
    Unparseable(String),
    /// Nesting deeper than [`MAX_DEPTH`], or a line longer than [`MAX_LEN`].
    TooComplex,
    /// A function that calls itself (`:(){ :|:& };:`): a fork bomb.
    SelfRecursiveFunction(String),
    /// Code built at run time (`eval "$x"`, `bash -c "$cmd"`, `$(…)` inside `${…}`).
    DynamicCode(String),
}

/// Everything found in one command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub commands: Vec<SimpleCommand>,
    pub problems: Vec<Problem>,
}

/// Deepest nesting of brackets and blocks analysed; deeper input is reported as too complex
/// without being parsed (the parser recurses once per level).
const MAX_NESTING: usize = 64;
/// Stack of the thread that parses and walks a command line: room for [`MAX_NESTING`] levels
/// in each of [`MAX_DEPTH`] nested scripts, whatever the build.
const STACK: usize = 64 << 20;

/// Analyse a command line.
///
/// A hook that crashes lets the command run (Claude Code treats a crash as a non-blocking
/// error), so nothing here may overflow the stack: nesting is bounded before parsing, and the
/// parse runs on a thread with a stack sized for that bound.
pub fn analyse(text: &str) -> Analysis {
    let mut walker = Walker::default();
    if text.len() > MAX_LEN || nesting(text) > MAX_NESTING {
        walker.problems.push(Problem::TooComplex);
        return walker.finish();
    }
    let owned = text.to_owned();
    let analysed = std::thread::Builder::new()
        .name("shell-analysis".into())
        .stack_size(STACK)
        .spawn(move || {
            walker.program(&owned, 0, &[]);
            walker.finish()
        })
        .map(|thread| thread.join());
    match analysed {
        Ok(Ok(analysis)) => analysis,
        _ => Analysis {
            commands: Vec::new(),
            problems: vec![Problem::Unparseable("the shell parser failed".into())],
        },
    }
}

/// An upper bound of how deeply `text` nests: brackets of every kind and backtick pairs,
/// counted without regard to quoting (so quoted brackets can only make it larger, never hide
/// nesting), and the blocks `if`/`case`/loops open — those words only where a command starts
/// (after `;`, `&`, `|`, a newline, an opening bracket or another such word), so prose in a
/// here-document or a commit message does not count.
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut word = String::new();
    let mut word_starts_command = true;
    let mut command_start = true;
    let mut in_backticks = false;
    // Returns whether the next word starts a command too.
    let end_word = |word: &mut String, starts_command: bool, depth: &mut usize| -> bool {
        let mut next_starts_command = false;
        if starts_command {
            match word.as_str() {
                "if" | "case" | "for" | "while" | "until" | "select" => {
                    *depth += 1;
                    next_starts_command = true;
                }
                "fi" | "esac" | "done" => *depth = depth.saturating_sub(1),
                "then" | "do" | "else" | "elif" | "time" | "!" => next_starts_command = true,
                _ => {}
            }
        }
        word.clear();
        next_starts_command
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if word.is_empty() {
                word_starts_command = command_start;
            }
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            command_start = end_word(&mut word, word_starts_command, &mut depth);
        }
        match c {
            '(' | '{' | '[' => {
                depth += 1;
                command_start = true;
            }
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            '`' => {
                in_backticks = !in_backticks;
                if in_backticks {
                    depth += 1;
                    command_start = true;
                } else {
                    depth = depth.saturating_sub(1);
                }
            }
            ';' | '&' | '|' | '\n' => command_start = true,
            c if c.is_whitespace() => {}
            _ => command_start = false,
        }
        deepest = deepest.max(depth);
    }
    if !word.is_empty() {
        end_word(&mut word, word_starts_command, &mut depth);
    }
    deepest.max(depth)
}

/// What the words of one simple command set besides its arguments.
#[derive(Default)]
struct Found {
    words: Vec<Word>,
    redirects: Vec<Redirect>,
    env: Vec<Assignment>,
    input: Option<Input>,
}

#[derive(Default)]
struct Walker {
    commands: Vec<SimpleCommand>,
    problems: Vec<Problem>,
    next_pipeline: usize,
}

fn parser_options() -> brush_parser::ParserOptions {
    brush_parser::ParserOptions::default()
}

/// Shells whose `-c` argument is a script.
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "yash", "busybox",
];

impl Walker {
    fn finish(self) -> Analysis {
        Analysis {
            commands: self.commands,
            problems: self.problems,
        }
    }

    fn new_pipeline(&mut self) -> usize {
        self.next_pipeline += 1;
        self.next_pipeline
    }

    fn program(&mut self, text: &str, depth: usize, wrappers: &[String]) {
        if depth > MAX_DEPTH {
            self.problems.push(Problem::TooComplex);
            return;
        }
        if text.trim().is_empty() {
            return;
        }
        // The parser is a third-party PEG parser: guard against a panic on odd input so the
        // gate fails towards "ask" instead of crashing the hook.
        let parsed = std::panic::catch_unwind(|| {
            let mut parser =
                brush_parser::Parser::new(BufReader::new(text.as_bytes()), &parser_options());
            parser.parse_program()
        });
        match parsed {
            Ok(Ok(program)) => {
                for list in &program.complete_commands {
                    self.compound_list(list, depth, wrappers);
                }
            }
            Ok(Err(e)) => self.problems.push(Problem::Unparseable(e.to_string())),
            Err(_) => self
                .problems
                .push(Problem::Unparseable("the shell parser failed".into())),
        }
    }

    fn compound_list(&mut self, list: &ast::CompoundList, depth: usize, wrappers: &[String]) {
        for item in &list.0 {
            self.and_or(&item.0, depth, wrappers);
        }
    }

    fn and_or(&mut self, list: &ast::AndOrList, depth: usize, wrappers: &[String]) {
        self.pipeline(&list.first, depth, wrappers);
        for next in &list.additional {
            match next {
                ast::AndOr::And(p) | ast::AndOr::Or(p) => self.pipeline(p, depth, wrappers),
            }
        }
    }

    fn pipeline(&mut self, p: &ast::Pipeline, depth: usize, wrappers: &[String]) {
        let id = self.new_pipeline();
        for (stage, cmd) in p.seq.iter().enumerate() {
            self.command(cmd, id, stage, depth, wrappers);
        }
    }

    fn command(
        &mut self,
        cmd: &ast::Command,
        pipeline: usize,
        stage: usize,
        depth: usize,
        wrappers: &[String],
    ) {
        match cmd {
            ast::Command::Simple(sc) => self.simple(sc, pipeline, stage, depth, wrappers),
            ast::Command::Compound(cc, redirects) => {
                self.compound(cc, depth, wrappers);
                self.bare_redirects(redirects.as_ref(), pipeline, stage, depth, wrappers);
            }
            ast::Command::Function(f) => {
                let name = self.expand(&f.fname.value, depth).text;
                let start = self.commands.len();
                self.compound(&f.body.0, depth, wrappers);
                self.bare_redirects(f.body.1.as_ref(), pipeline, stage, depth, wrappers);
                if self.commands[start..]
                    .iter()
                    .any(|c| c.argv.first().is_some_and(|w| w.text == name))
                {
                    self.problems.push(Problem::SelfRecursiveFunction(name));
                }
            }
            ast::Command::ExtendedTest(expr, redirects) => {
                self.extended_test(&expr.expr, depth);
                self.bare_redirects(redirects.as_ref(), pipeline, stage, depth, wrappers);
            }
        }
    }

    fn extended_test(&mut self, expr: &ast::ExtendedTestExpr, depth: usize) {
        use ast::ExtendedTestExpr as E;
        match expr {
            E::And(a, b) | E::Or(a, b) => {
                self.extended_test(a, depth);
                self.extended_test(b, depth);
            }
            E::Not(a) | E::Parenthesized(a) => self.extended_test(a, depth),
            E::UnaryTest(_, w) => {
                self.expand(&w.value, depth);
            }
            E::BinaryTest(_, a, b) => {
                self.expand(&a.value, depth);
                self.expand(&b.value, depth);
            }
        }
    }

    fn bare_redirects(
        &mut self,
        redirects: Option<&ast::RedirectList>,
        pipeline: usize,
        stage: usize,
        depth: usize,
        wrappers: &[String],
    ) {
        let Some(list) = redirects else { return };
        let mut found = Vec::new();
        let mut input = None;
        for r in &list.0 {
            self.redirect(r, depth, &mut found, &mut input);
        }
        if !found.is_empty() {
            self.commands.push(SimpleCommand {
                argv: Vec::new(),
                env: Vec::new(),
                input: None,
                wrappers: wrappers.to_vec(),
                redirects: found,
                pipeline,
                stage,
            });
        }
    }

    fn compound(&mut self, cc: &ast::CompoundCommand, depth: usize, wrappers: &[String]) {
        use ast::CompoundCommand as C;
        match cc {
            C::Arithmetic(a) => {
                self.arithmetic(&a.expr.value);
                // The parser also reads nested subshells, `( (rm -rf /) )`, as `(( … ))`; bash
                // runs them as subshells. A body that is no arithmetic expression is judged as
                // the commands it would be.
                if brush_parser::arithmetic::parse(&a.expr.value).is_err() {
                    self.program(&format!("({})", a.expr.value), depth + 1, wrappers);
                }
            }
            C::ArithmeticForClause(f) => {
                for e in [&f.initializer, &f.condition, &f.updater]
                    .into_iter()
                    .flatten()
                {
                    self.arithmetic(&e.value);
                }
                self.compound_list(&f.body.list, depth, wrappers);
            }
            C::BraceGroup(b) => self.compound_list(&b.list, depth, wrappers),
            C::Subshell(s) => self.compound_list(&s.list, depth, wrappers),
            C::ForClause(f) => {
                for w in f.values.iter().flatten() {
                    self.expand(&w.value, depth);
                }
                self.compound_list(&f.body.list, depth, wrappers);
            }
            C::CaseClause(c) => {
                self.expand(&c.value.value, depth);
                for item in &c.cases {
                    for p in &item.patterns {
                        self.expand(&p.value, depth);
                    }
                    if let Some(list) = &item.cmd {
                        self.compound_list(list, depth, wrappers);
                    }
                }
            }
            C::IfClause(i) => {
                self.compound_list(&i.condition, depth, wrappers);
                self.compound_list(&i.then, depth, wrappers);
                for e in i.elses.iter().flatten() {
                    if let Some(c) = &e.condition {
                        self.compound_list(c, depth, wrappers);
                    }
                    self.compound_list(&e.body, depth, wrappers);
                }
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                self.compound_list(&w.0, depth, wrappers);
                self.compound_list(&w.1.list, depth, wrappers);
            }
            C::Coprocess(c) => {
                let id = self.new_pipeline();
                self.command(&c.body, id, 0, depth, wrappers);
            }
        }
    }

    /// Arithmetic is inert unless it hides a substitution (`$(( $(rm -rf ~) ))`).
    fn arithmetic(&mut self, text: &str) {
        if text.contains("$(") || text.contains('`') {
            self.problems
                .push(Problem::DynamicCode(format!("$(( {text} ))")));
        }
    }

    fn redirect(
        &mut self,
        r: &ast::IoRedirect,
        depth: usize,
        out: &mut Vec<Redirect>,
        input: &mut Option<Input>,
    ) {
        use ast::IoFileRedirectKind as K;
        let is_stdin = |fd: &Option<ast::IoFd>| fd.is_none_or(|fd| fd == 0);
        match r {
            ast::IoRedirect::File(fd, kind, target) => match target {
                ast::IoFileRedirectTarget::Filename(w) => {
                    let write = !matches!(kind, K::Read | K::DuplicateInput);
                    if matches!(kind, K::Read | K::ReadAndWrite) && is_stdin(fd) {
                        *input = Some(Input::File);
                    }
                    let target = self.expand(&w.value, depth);
                    out.push(Redirect { target, write });
                }
                ast::IoFileRedirectTarget::Duplicate(w) => {
                    // `>&file` is a file redirection when the word is not a descriptor.
                    let target = self.expand(&w.value, depth);
                    if !target.text.chars().all(|c| c.is_ascii_digit() || c == '-') {
                        let write = !matches!(kind, K::Read | K::DuplicateInput);
                        out.push(Redirect { target, write });
                    }
                }
                ast::IoFileRedirectTarget::Fd(_) => {}
                ast::IoFileRedirectTarget::ProcessSubstitution(_, sub) => {
                    self.compound_list(&sub.list, depth + 1, &[]);
                }
            },
            ast::IoRedirect::HereDocument(fd, doc) => {
                let text = if doc.requires_expansion {
                    // Substitutions inside an unquoted here-document run.
                    self.expand_heredoc(&doc.doc.value, depth)
                } else {
                    Word::literal(doc.doc.value.clone())
                };
                if is_stdin(fd) {
                    *input = Some(Input::Text(text));
                }
            }
            ast::IoRedirect::HereString(fd, w) => {
                let text = self.expand(&w.value, depth);
                if is_stdin(fd) {
                    *input = Some(Input::Text(text));
                }
            }
            ast::IoRedirect::OutputAndError(w, _) => {
                let target = self.expand(&w.value, depth);
                out.push(Redirect {
                    target,
                    write: true,
                });
            }
        }
    }

    fn expand_heredoc(&mut self, body: &str, depth: usize) -> Word {
        match brush_parser::word::parse_heredoc(body, &parser_options()) {
            Ok(pieces) => {
                let mut w = Word::literal("");
                self.pieces(&pieces, body, depth, &mut w);
                w
            }
            Err(e) => {
                self.problems.push(Problem::Unparseable(e.to_string()));
                Word {
                    text: body.to_string(),
                    dynamic: true,
                }
            }
        }
    }

    fn simple(
        &mut self,
        sc: &ast::SimpleCommand,
        pipeline: usize,
        stage: usize,
        depth: usize,
        wrappers: &[String],
    ) {
        let mut found = Found::default();
        for item in sc.prefix.iter().flat_map(|p| p.0.iter()) {
            self.item(item, depth, &mut found, true);
        }
        // Assignments before the command (`X=1 cmd`) only set its environment.
        found.words.clear();
        if let Some(name) = &sc.word_or_name {
            found.words.extend(self.expand_split(&name.value, depth));
        }
        for item in sc.suffix.iter().flat_map(|s| s.0.iter()) {
            self.item(item, depth, &mut found, false);
        }
        let words = std::mem::take(&mut found.words);
        self.unwrap(words, found, pipeline, stage, depth, wrappers.to_vec());
    }

    fn item(
        &mut self,
        item: &ast::CommandPrefixOrSuffixItem,
        depth: usize,
        found: &mut Found,
        prefix: bool,
    ) {
        use ast::CommandPrefixOrSuffixItem as I;
        match item {
            I::IoRedirect(r) => self.redirect(r, depth, &mut found.redirects, &mut found.input),
            I::Word(w) => found.words.extend(self.expand_split(&w.value, depth)),
            I::AssignmentWord(assignment, w) => {
                let value = match &assignment.value {
                    ast::AssignmentValue::Scalar(v) => self.expand(&v.value, depth),
                    ast::AssignmentValue::Array(items) => {
                        for (k, v) in items {
                            if let Some(k) = k {
                                self.expand(&k.value, depth);
                            }
                            self.expand(&v.value, depth);
                        }
                        Word {
                            text: "(…)".into(),
                            dynamic: true,
                        }
                    }
                };
                let name = match &assignment.name {
                    ast::AssignmentName::VariableName(n) => n.clone(),
                    ast::AssignmentName::ArrayElementName(n, _) => n.clone(),
                };
                found.env.push(Assignment { name, value });
                if !prefix {
                    // `export X=…`, `declare X=…`: an argument of the command.
                    found.words.push(Word::literal(w.value.clone()));
                }
            }
            I::ProcessSubstitution(_, sub) => {
                self.compound_list(&sub.list, depth + 1, &[]);
                found.words.push(Word {
                    text: "<(…)".into(),
                    dynamic: true,
                });
            }
        }
    }

    /// Expand a word that may split into several (an unquoted substitution with a constant
    /// result, such as `$(echo rm -rf)`).
    fn expand_split(&mut self, raw: &str, depth: usize) -> Vec<Word> {
        let word = self.expand(raw, depth);
        let unquoted_substitution = (raw.starts_with("$(") && raw.ends_with(')'))
            || (raw.starts_with('`') && raw.ends_with('`') && raw.len() > 1);
        if unquoted_substitution && !word.dynamic && word.text.contains(char::is_whitespace) {
            return word.text.split_whitespace().map(Word::literal).collect();
        }
        vec![word]
    }

    /// Quote removal and best-effort expansion of one word. Substitutions inside it are analysed
    /// as commands of their own.
    fn expand(&mut self, raw: &str, depth: usize) -> Word {
        let parsed = std::panic::catch_unwind(|| {
            brush_parser::word::parse(raw, &parser_options()).map_err(|e| e.to_string())
        });
        match parsed {
            Ok(Ok(pieces)) => {
                let mut w = Word::literal("");
                self.pieces(&pieces, raw, depth, &mut w);
                w
            }
            Ok(Err(e)) => {
                self.problems.push(Problem::Unparseable(e));
                Word {
                    text: raw.to_string(),
                    dynamic: true,
                }
            }
            Err(_) => {
                self.problems
                    .push(Problem::Unparseable("the word parser failed".into()));
                Word {
                    text: raw.to_string(),
                    dynamic: true,
                }
            }
        }
    }

    fn pieces(&mut self, pieces: &[WordPieceWithSource], raw: &str, depth: usize, w: &mut Word) {
        for p in pieces {
            let source = raw.get(p.start_index..p.end_index).unwrap_or("");
            match &p.piece {
                WordPiece::Text(t) | WordPiece::SingleQuotedText(t) => w.text.push_str(t),
                WordPiece::AnsiCQuotedText(t) => match decode_ansi_c(t) {
                    Some(s) => w.text.push_str(&s),
                    None => {
                        w.text.push_str(t);
                        w.dynamic = true;
                    }
                },
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    self.pieces(inner, raw, depth, w)
                }
                WordPiece::TildeExpansion(t) => match t {
                    TildeExpr::Home => w.text.push('~'),
                    TildeExpr::UserHome(user) => {
                        w.text.push('~');
                        w.text.push_str(user);
                    }
                    _ => {
                        w.text.push_str(source);
                        w.dynamic = true;
                    }
                },
                WordPiece::ParameterExpansion(expr) => {
                    if source.contains("$(") || source.contains('`') || source.contains("<(") {
                        self.problems.push(Problem::DynamicCode(source.to_string()));
                    }
                    match expr {
                        ParameterExpr::Parameter {
                            parameter: Parameter::Named(name),
                            indirect: false,
                        } if name == "HOME" => w.text.push('~'),
                        _ => {
                            w.text.push_str(source);
                            w.dynamic = true;
                        }
                    }
                }
                WordPiece::CommandSubstitution(inner)
                | WordPiece::BackquotedCommandSubstitution(inner) => {
                    let start = self.commands.len();
                    let problems = self.problems.len();
                    self.program(inner, depth + 1, &[]);
                    match constant_output(&self.commands[start..]) {
                        Some(out) if self.problems.len() == problems => w.text.push_str(&out),
                        _ => {
                            w.text.push_str(source);
                            w.dynamic = true;
                        }
                    }
                }
                WordPiece::EscapeSequence(e) => {
                    let s = e.strip_prefix('\\').unwrap_or(e);
                    // A backslash-newline is a line continuation.
                    if s != "\n" {
                        w.text.push_str(s);
                    }
                }
                WordPiece::ArithmeticExpression(e) => {
                    self.arithmetic(&e.value);
                    w.text.push_str(source);
                    w.dynamic = true;
                }
            }
        }
    }

    /// Look through wrappers (`sudo`, `env`, `bash -c`, `xargs`, …) and record the commands that
    /// really run.
    #[allow(clippy::too_many_arguments)]
    fn unwrap(
        &mut self,
        mut words: Vec<Word>,
        mut found: Found,
        pipeline: usize,
        stage: usize,
        depth: usize,
        mut wrappers: Vec<String>,
    ) {
        for _ in 0..16 {
            let Some(first) = words.first() else { break };
            if first.dynamic {
                break;
            }
            let program = first
                .text
                .rsplit('/')
                .next()
                .unwrap_or(&first.text)
                .to_string();
            let rest = &words[1..];
            let inner: Option<Vec<Word>> = match program.as_str() {
                "sudo" | "doas" | "run0" | "pkexec" => skip_options(
                    rest,
                    &["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"],
                ),
                "env" => {
                    // `env -S "cmd args"` splits its argument like a shell would.
                    if let Some(i) = rest
                        .iter()
                        .position(|w| w.text == "-S" || w.text == "--split-string")
                        && let Some(script) = rest.get(i + 1)
                    {
                        let mut text = script.text.clone();
                        for w in &rest[i + 2..] {
                            text.push(' ');
                            text.push_str(&w.text);
                        }
                        wrappers.push("env".into());
                        self.script(&text, script.dynamic, pipeline, stage, depth, &wrappers);
                        return;
                    }
                    skip_options(rest, &["-u", "-C", "--unset", "--chdir"]).map(|mut v| {
                        // Environment assignments before the program.
                        let n = v.iter().take_while(|w| is_assignment(&w.text)).count();
                        for w in v.drain(..n) {
                            if let Some((name, value)) = w.text.split_once('=') {
                                found.env.push(Assignment {
                                    name: name.to_string(),
                                    value: Word {
                                        text: value.to_string(),
                                        dynamic: w.dynamic,
                                    },
                                });
                            }
                        }
                        v
                    })
                }
                "nohup" | "time" | "builtin" | "setsid" | "chronic" | "unbuffer" | "torsocks"
                | "caffeinate" | "proxychains" | "proxychains4" | "noglob" => {
                    skip_options(rest, &[])
                }
                "command" => {
                    if rest.iter().any(|w| w.text == "-v" || w.text == "-V") {
                        None
                    } else {
                        skip_options(rest, &[])
                    }
                }
                "exec" => skip_options(rest, &["-a"]),
                "strace" | "ltrace" => skip_options(
                    rest,
                    &[
                        "-o", "-e", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-P", "-S",
                        "-X", "-n", "-l", "-L", "-x",
                    ],
                ),
                "chroot" => skip_options(rest, &["--userspec", "--groups"])
                    .map(|v| v.into_iter().skip(1).collect()),
                // `taskset MASK cmd`, `taskset -c LIST cmd`: the mask or list, then the command.
                "taskset" => skip_options(rest, &[]).map(|v| v.into_iter().skip(1).collect()),
                "systemd-run" => skip_options(
                    rest,
                    &[
                        "-u",
                        "--unit",
                        "-p",
                        "--property",
                        "-E",
                        "--setenv",
                        "--description",
                        "--slice",
                        "--uid",
                        "--gid",
                        "--nice",
                        "--working-directory",
                        "-H",
                        "--host",
                        "-M",
                        "--machine",
                        "--on-active",
                        "--on-boot",
                        "--on-startup",
                        "--on-unit-active",
                        "--on-unit-inactive",
                        "--on-calendar",
                        "--timer-property",
                        "--path-property",
                        "--socket-property",
                        "--service-type",
                    ],
                ),
                // `runuser -u USER -- cmd`, `runuser -l USER -c 'cmd'`, `su -c 'cmd' USER`,
                // `sg GROUP -c 'cmd'`, `script -c 'cmd' FILE`.
                // `runuser -u USER [--] cmd …`: the command's own words follow (its `-c` is its
                // own, not a script).
                "runuser" if rest.iter().any(|w| w.text == "-u" || w.text == "--user") => {
                    skip_options(
                        rest,
                        &[
                            "-u",
                            "--user",
                            "-g",
                            "--group",
                            "-G",
                            "--supp-group",
                            "-s",
                            "--shell",
                            "-w",
                            "--whitelist-environment",
                        ],
                    )
                }
                "runuser" | "su" | "sg" | "script" => {
                    let script = match (command_option(rest), program.as_str()) {
                        (Some(script), _) => Some(script),
                        // `sg GROUP cmd …`: the rest is the command line.
                        (None, "sg") => rest.get(1..).filter(|v| !v.is_empty()).map(|v| Word {
                            text: v
                                .iter()
                                .map(|w| w.text.as_str())
                                .collect::<Vec<_>>()
                                .join(" "),
                            dynamic: v.iter().any(|w| w.dynamic),
                        }),
                        _ => None,
                    };
                    if let Some(script) = script {
                        wrappers.push(program);
                        self.script(
                            &script.text,
                            script.dynamic,
                            pipeline,
                            stage,
                            depth,
                            &wrappers,
                        );
                        return;
                    }
                    None
                }
                "nice" | "renice" => skip_options(rest, &["-n", "--adjustment"]),
                "ionice" => skip_options(rest, &["-c", "-n", "--class", "--classdata"]),
                "stdbuf" => skip_options(rest, &["-i", "-o", "-e"]),
                "timeout" => skip_options(rest, &["-s", "-k", "--signal", "--kill-after"])
                    .map(|v| v.into_iter().skip(1).collect()),
                "flock" => skip_options(rest, &["-w", "-E", "--timeout", "--conflict-exit-code"])
                    .map(|v| v.into_iter().skip(1).collect()),
                "xargs" => {
                    let mut v = skip_options(
                        rest,
                        &[
                            "-I",
                            "-L",
                            "-n",
                            "-P",
                            "-d",
                            "-E",
                            "-s",
                            "-a",
                            "--max-args",
                            "--max-procs",
                            "--delimiter",
                            "--arg-file",
                            "--max-lines",
                        ],
                    )
                    .unwrap_or_default();
                    if v.is_empty() {
                        v.push(Word::literal("echo"));
                    }
                    // xargs appends words read from its input.
                    v.push(Word {
                        text: "{xargs input}".into(),
                        dynamic: true,
                    });
                    Some(v)
                }
                "watch" => {
                    if let Some(v) = skip_options(rest, &["-n", "--interval", "-d"]) {
                        let dynamic = v.iter().any(|w| w.dynamic);
                        let text = v
                            .iter()
                            .map(|w| w.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" ");
                        wrappers.push("watch".into());
                        self.script(&text, dynamic, pipeline, stage, depth, &wrappers);
                        return;
                    }
                    None
                }
                "eval" => {
                    let dynamic = rest.iter().any(|w| w.dynamic);
                    let text = rest
                        .iter()
                        .map(|w| w.text.as_str())
                        .collect::<Vec<_>>()
                        .join(" ");
                    wrappers.push("eval".into());
                    self.script(&text, dynamic, pipeline, stage, depth, &wrappers);
                    return;
                }
                p if SHELLS.contains(&p) => {
                    let mut rest = rest;
                    if p == "busybox" {
                        // `busybox sh -c …`; other applets run as themselves.
                        match rest.first() {
                            Some(w) if SHELLS.contains(&w.text.as_str()) => rest = &rest[1..],
                            Some(_) => {
                                words.remove(0);
                                continue;
                            }
                            None => break,
                        }
                    }
                    match shell_script_argument(rest) {
                        Some(script) => {
                            wrappers.push(format!("{program} -c"));
                            self.script(
                                &script.text,
                                script.dynamic,
                                pipeline,
                                stage,
                                depth,
                                &wrappers,
                            );
                            return;
                        }
                        None => match &found.input {
                            // `bash <<EOF … EOF`, `sh <<< 'cmd'`: the text is the script.
                            Some(Input::Text(text)) if skip_options(rest, &[]).is_none() => {
                                let text = text.clone();
                                wrappers.push(format!("{program} <<"));
                                self.script(
                                    &text.text,
                                    text.dynamic,
                                    pipeline,
                                    stage,
                                    depth,
                                    &wrappers,
                                );
                                return;
                            }
                            _ => None,
                        },
                    }
                }
                "find" => {
                    self.find_exec(rest, pipeline, stage, depth, &wrappers);
                    None
                }
                _ => None,
            };
            match inner {
                Some(v) if !v.is_empty() => {
                    wrappers.push(program);
                    words = v;
                }
                _ => break,
            }
        }
        // `PAGER='…' git log`, `GIT_SSH_COMMAND=… git push`: the command in the variable runs.
        for a in &found.env {
            if COMMAND_VARIABLES.contains(&a.name.as_str()) {
                let text = a.value.text.trim_start_matches('|');
                let mut wr = wrappers.clone();
                wr.push(format!("{}=", a.name));
                self.script(text, a.value.dynamic, pipeline, stage, depth, &wr);
            }
        }
        let words = self.git(words, pipeline, stage, depth, &wrappers);
        self.commands.push(SimpleCommand {
            argv: words,
            env: found.env,
            input: found.input,
            wrappers,
            redirects: found.redirects,
            pipeline,
            stage,
        });
    }

    /// Drop git's global options so its subcommand is the first argument (`git -C dir push` →
    /// `git push`), and judge what its `-c`/`--config-env` settings run: a setting whose value is
    /// a command (`core.fsmonitor`, `core.pager`, `alias.x=!…`, …) is analysed as a script, one
    /// that loads code from elsewhere (`include.path`, `core.hooksPath`) is dynamic code, and an
    /// alias used as the subcommand (`-c alias.st='push --force' st`) is replaced by its value.
    fn git(
        &mut self,
        words: Vec<Word>,
        pipeline: usize,
        stage: usize,
        depth: usize,
        wrappers: &[String],
    ) -> Vec<Word> {
        let is_git = words
            .first()
            .is_some_and(|w| !w.dynamic && w.text.rsplit('/').next() == Some("git"));
        if !is_git {
            return words;
        }
        let mut settings: Vec<(String, Word)> = Vec::new();
        let mut setting = |w: &Word, from_env: bool| {
            let (key, value) = w.text.split_once('=').unwrap_or((&w.text, "true"));
            let value = if from_env {
                Word {
                    text: format!("${value}"),
                    dynamic: true,
                }
            } else {
                Word {
                    text: value.to_string(),
                    dynamic: w.dynamic,
                }
            };
            settings.push((key.to_ascii_lowercase(), value));
        };
        let mut i = 1;
        while i < words.len() {
            let t = words[i].text.as_str();
            if t == "-c" || t == "--config-env" {
                if let Some(w) = words.get(i + 1) {
                    setting(w, t == "--config-env");
                }
                i += 2;
            } else if let Some(v) = t.strip_prefix("--config-env=") {
                setting(
                    &Word {
                        text: v.to_string(),
                        dynamic: words[i].dynamic,
                    },
                    true,
                );
                i += 1;
            } else if matches!(t, "-C" | "--git-dir" | "--work-tree" | "--namespace") {
                i += 2;
            } else if t.starts_with('-') && !words[i].dynamic {
                i += 1;
            } else {
                break;
            }
        }
        let mut git_wrappers = wrappers.to_vec();
        git_wrappers.push("git -c".into());
        let mut rest: Vec<Word> = words.get(i..).unwrap_or_default().to_vec();
        // Aliases may name other aliases; git refuses loops, a bound is enough here.
        for _ in 0..8 {
            let Some(first) = rest.first().filter(|w| !w.dynamic) else {
                break;
            };
            let name = format!("alias.{}", first.text.to_ascii_lowercase());
            let Some((_, value)) = settings.iter().rev().find(|(k, _)| *k == name) else {
                break;
            };
            if let Some(command) = value.text.strip_prefix('!') {
                // A shell alias runs with the remaining arguments appended.
                let mut text = command.to_string();
                for w in &rest[1..] {
                    text.push(' ');
                    text.push_str(&w.text);
                }
                let dynamic = value.dynamic || rest[1..].iter().any(|w| w.dynamic);
                self.script(&text, dynamic, pipeline, stage, depth, &git_wrappers);
                rest.clear();
                break;
            }
            let mut replaced: Vec<Word> = value
                .text
                .split_whitespace()
                .map(|t| Word {
                    text: t.to_string(),
                    dynamic: value.dynamic,
                })
                .collect();
            replaced.extend(rest.drain(1..));
            rest = replaced;
        }
        for (key, value) in &settings {
            if git_key_matches(key, GIT_COMMAND_SETTINGS) {
                let bool_like = matches!(
                    value.text.to_ascii_lowercase().as_str(),
                    "true" | "false" | "yes" | "no" | "on" | "off" | "1" | "0" | ""
                );
                if !bool_like || value.dynamic {
                    let text = value.text.strip_prefix('!').unwrap_or(&value.text);
                    self.script(text, value.dynamic, pipeline, stage, depth, &git_wrappers);
                }
            } else if git_key_matches(key, GIT_CODE_SETTINGS) {
                self.problems
                    .push(Problem::DynamicCode(format!("git -c {key}={}", value.text)));
            }
        }
        let mut out = vec![words[0].clone()];
        out.extend(rest);
        out
    }

    fn script(
        &mut self,
        text: &str,
        dynamic: bool,
        pipeline: usize,
        stage: usize,
        depth: usize,
        wrappers: &[String],
    ) {
        if dynamic {
            self.problems.push(Problem::DynamicCode(text.to_string()));
        }
        let start = self.commands.len();
        self.program(text, depth + 1, wrappers);
        // A script fed by a pipe (`curl … | bash -c 'cat | sh'`) is still in that pipeline.
        if stage > 0 {
            for c in &mut self.commands[start..] {
                if c.stage == 0 {
                    c.pipeline = pipeline;
                    c.stage = stage;
                }
            }
        }
    }

    /// `find … -exec CMD {} ;` runs CMD for every file found.
    fn find_exec(
        &mut self,
        args: &[Word],
        pipeline: usize,
        stage: usize,
        depth: usize,
        wrappers: &[String],
    ) {
        let mut i = 0;
        while i < args.len() {
            if matches!(
                args[i].text.as_str(),
                "-exec" | "-execdir" | "-ok" | "-okdir"
            ) {
                let end = args[i + 1..]
                    .iter()
                    .position(|w| w.text == ";" || w.text == "+")
                    .map(|p| i + 1 + p)
                    .unwrap_or(args.len());
                let inner: Vec<Word> = args[i + 1..end]
                    .iter()
                    .map(|w| {
                        if w.text.contains("{}") {
                            Word {
                                text: w.text.clone(),
                                dynamic: true,
                            }
                        } else {
                            w.clone()
                        }
                    })
                    .collect();
                if !inner.is_empty() {
                    let mut wr = wrappers.to_vec();
                    wr.push("find -exec".into());
                    self.unwrap(inner, Found::default(), pipeline, stage, depth + 1, wr);
                }
                i = end + 1;
            } else {
                i += 1;
            }
        }
    }
}

/// Skip a wrapper's options (and the values of `with_value` options) up to its command.
/// `None` when nothing follows.
fn skip_options(rest: &[Word], with_value: &[&str]) -> Option<Vec<Word>> {
    let mut i = 0;
    while i < rest.len() {
        let t = rest[i].text.as_str();
        if t == "--" {
            i += 1;
            break;
        }
        if !t.starts_with('-') || t == "-" || rest[i].dynamic {
            break;
        }
        if with_value.contains(&t) {
            i += 2;
        } else {
            i += 1;
        }
    }
    let v = rest.get(i..)?.to_vec();
    if v.is_empty() { None } else { Some(v) }
}

/// The script of `sh [-opts] -c SCRIPT …` (options may be bundled: `-lc`, `-ec`).
fn shell_script_argument(rest: &[Word]) -> Option<&Word> {
    let mut i = 0;
    let mut has_c = false;
    while i < rest.len() {
        let t = rest[i].text.as_str();
        if t == "--" {
            i += 1;
            break;
        }
        if let Some(opts) = t.strip_prefix('-') {
            if !opts.starts_with('-') && opts.contains('c') {
                has_c = true;
            }
            if matches!(t, "-o" | "+o" | "-O" | "+O" | "--rcfile" | "--init-file") {
                i += 1;
            }
            i += 1;
            continue;
        }
        if t.starts_with('+') {
            i += 1;
            continue;
        }
        break;
    }
    if has_c { rest.get(i) } else { None }
}

fn is_assignment(text: &str) -> bool {
    match text.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// The command a wrapper runs through a shell: `-c CMD`, `-qc CMD` (a bundle; getopt gives the
/// rest of the bundle, or the next word, to `c`), `-cCMD`, `--command CMD`, `--command=CMD`.
fn command_option(rest: &[Word]) -> Option<Word> {
    for (i, w) in rest.iter().enumerate() {
        let t = w.text.as_str();
        if t == "--" {
            return None;
        }
        if t == "--command" {
            return rest.get(i + 1).cloned();
        }
        if let Some(value) = t.strip_prefix("--command=") {
            return Some(Word {
                text: value.to_string(),
                dynamic: w.dynamic,
            });
        }
        let Some(bundle) = t.strip_prefix('-') else {
            continue;
        };
        if bundle.starts_with('-') || !bundle.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        if let Some((_, value)) = bundle.split_once('c') {
            return if value.is_empty() {
                rest.get(i + 1).cloned()
            } else {
                Some(Word {
                    text: value.to_string(),
                    dynamic: w.dynamic,
                })
            };
        }
    }
    None
}

/// Variables whose value is a command some program runs (`less` runs `LESSOPEN` without its
/// leading `|`).
const COMMAND_VARIABLES: &[&str] = &[
    "PAGER",
    "MANPAGER",
    "GIT_PAGER",
    "SYSTEMD_PAGER",
    "EDITOR",
    "VISUAL",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_EXTERNAL_DIFF",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "GIT_PROXY_COMMAND",
    "LESSOPEN",
    "LESSCLOSE",
    "PROMPT_COMMAND",
];

/// git settings whose value is a command git runs through the shell (`*` stands for any
/// subsection).
const GIT_COMMAND_SETTINGS: &[&str] = &[
    "core.fsmonitor",
    "core.pager",
    "core.editor",
    "core.sshcommand",
    "core.askpass",
    "core.gitproxy",
    "core.alternaterefscommand",
    "sequence.editor",
    "pager.*",
    "diff.external",
    "diff.*.textconv",
    "diff.*.command",
    "difftool.*.cmd",
    "mergetool.*.cmd",
    "merge.*.driver",
    "filter.*.clean",
    "filter.*.smudge",
    "filter.*.process",
    "credential.helper",
    "credential.*.helper",
    "gpg.program",
    "gpg.*.program",
    "uploadpack.packobjectshook",
    "remote.*.uploadpack",
    "remote.*.receivepack",
    "sendemail.tocmd",
    "sendemail.cccmd",
    "sendemail.sendmailcmd",
    "browser.*.cmd",
    "man.*.cmd",
];

/// git settings that make it load code or settings from elsewhere.
const GIT_CODE_SETTINGS: &[&str] = &[
    "include.path",
    "includeif.*.path",
    "core.hookspath",
    "init.templatedir",
    "protocol.allow",
    "protocol.*.allow",
];

fn git_key_matches(key: &str, patterns: &[&str]) -> bool {
    patterns.iter().any(|p| match p.split_once('*') {
        Some((prefix, suffix)) => {
            key.len() > prefix.len() + suffix.len()
                && key.starts_with(prefix)
                && key.ends_with(suffix)
        }
        None => key == *p,
    })
}

/// What a substitution prints, when it is a constant: `$(echo rm)` → `rm`.
fn constant_output(commands: &[SimpleCommand]) -> Option<String> {
    let [cmd] = commands else { return None };
    if !cmd.redirects.is_empty() || cmd.argv.iter().any(|w| w.dynamic) {
        return None;
    }
    match cmd.program()? {
        "echo" => {
            let args: Vec<&str> = cmd.argv[1..]
                .iter()
                .map(|w| w.text.as_str())
                .skip_while(|a| matches!(*a, "-n" | "-e" | "-E" | "-ne" | "-en"))
                .collect();
            Some(args.join(" "))
        }
        "printf" => {
            let format = cmd.argv.get(1)?;
            if cmd.argv.len() == 2 && !format.text.contains('%') && !format.text.contains('\\') {
                Some(format.text.clone())
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Decode the escapes of bash's `$'…'` quoting; `None` for an escape we do not know.
fn decode_ansi_c(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'e' | 'E' => out.push('\x1b'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\\' | '\'' | '"' | '?' => out.push(e),
            'x' | 'u' | 'U' => {
                let max = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut hex = String::new();
                while hex.len() < max {
                    match chars.peek() {
                        Some(h) if h.is_ascii_hexdigit() => {
                            hex.push(*h);
                            chars.next();
                        }
                        _ => break,
                    }
                }
                let n = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(n)?);
            }
            '0'..='7' => {
                let mut oct = String::from(e);
                while oct.len() < 3 {
                    match chars.peek() {
                        Some(o) if ('0'..='7').contains(o) => {
                            oct.push(*o);
                            chars.next();
                        }
                        _ => break,
                    }
                }
                let n = u32::from_str_radix(&oct, 8).ok()?;
                out.push(char::from_u32(n)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs(text: &str) -> Vec<String> {
        analyse(text)
            .commands
            .iter()
            .map(|c| c.program().unwrap_or("?").to_string())
            .collect()
    }

    fn argv(text: &str) -> Vec<Vec<String>> {
        analyse(text)
            .commands
            .iter()
            .map(|c| c.argv.iter().map(|w| w.text.clone()).collect())
            .collect()
    }

    #[test]
    fn compound_commands_are_split() {
        assert_eq!(programs("echo ok; rm -rf /"), ["echo", "rm"]);
        assert_eq!(programs("a && b || c | d"), ["a", "b", "c", "d"]);
        assert_eq!(programs("(cd x; make) & wait"), ["cd", "make", "wait"]);
        assert_eq!(
            programs("if test -f x; then rm x; else touch x; fi"),
            ["test", "rm", "touch"]
        );
        assert_eq!(programs("for f in *; do cat $f; done"), ["cat"]);
    }

    #[test]
    fn substitutions_are_commands_too() {
        assert_eq!(programs("echo $(whoami) `id`"), ["whoami", "id", "echo"]);
        assert_eq!(programs("diff <(ls a) <(ls b)"), ["ls", "ls", "diff"]);
    }

    #[test]
    fn constant_substitutions_are_folded() {
        assert_eq!(
            argv("$(echo rm) -rf ~"),
            [vec!["echo", "rm"], vec!["rm", "-rf", "~"]]
        );
        assert_eq!(argv("`echo rm -rf` /")[1], ["rm", "-rf", "/"]);
    }

    #[test]
    fn quoting_and_escapes_are_resolved() {
        assert_eq!(argv(r#"'r'"m" -rf \/"#), [vec!["rm", "-rf", "/"]]);
        assert_eq!(argv(r#"r\m -r "$HOME""#), [vec!["rm", "-r", "~"]]);
        assert_eq!(argv("$'\\x72\\x6d' -rf ${HOME}"), [vec!["rm", "-rf", "~"]]);
    }

    #[test]
    fn wrappers_are_looked_through() {
        let a = analyse("sudo -u root env -i FOO=1 nohup nice -n 5 rm -rf /");
        assert_eq!(a.commands[0].argv[0].text, "rm");
        assert_eq!(a.commands[0].wrappers, ["sudo", "env", "nohup", "nice"]);
        assert_eq!(programs("bash -c \"curl x | sh\""), ["curl", "sh"]);
        let a = analyse("bash -lc 'curl x | sh'");
        assert_eq!(a.commands[1].stage, 1);
        assert_eq!(a.commands[0].pipeline, a.commands[1].pipeline);
        assert_eq!(programs("eval 'rm -rf /'"), ["rm"]);
        assert_eq!(programs("find . -name x -exec rm -rf {} +"), ["rm", "find"]);
        assert_eq!(argv("ls | xargs rm -f")[1][..2], ["rm", "-f"]);
        assert_eq!(programs("time command -p timeout 5 sh -c 'rm x'"), ["rm"]);
        assert_eq!(
            argv("git -C dir -c a=b push --force")[0],
            ["git", "push", "--force"]
        );
    }

    #[test]
    fn redirects_are_recorded() {
        let a = analyse("echo x > /etc/passwd 2>/dev/null < in");
        let r = &a.commands[0].redirects;
        assert_eq!(r.len(), 3);
        assert!(r[0].write && r[0].target.text == "/etc/passwd");
        assert!(!r[2].write);
        let a = analyse("{ echo a; } >> ~/.bashrc");
        assert!(
            a.commands
                .iter()
                .any(|c| c.argv.is_empty() && c.redirects[0].target.text == "~/.bashrc")
        );
    }

    #[test]
    fn fork_bombs_and_dynamic_code_are_problems() {
        let a = analyse(":(){ :|:& };:");
        assert!(matches!(a.problems[0], Problem::SelfRecursiveFunction(_)));
        let a = analyse("eval \"$CMD\"");
        assert!(matches!(a.problems[0], Problem::DynamicCode(_)));
        let a = analyse("echo 'unterminated");
        assert!(matches!(a.problems[0], Problem::Unparseable(_)));
    }

    #[test]
    fn variables_are_dynamic() {
        let a = analyse("$CMD -rf /");
        assert!(a.commands[0].program().is_none());
        let a = analyse("rm -rf \"$DIR\"/*");
        assert!(a.commands[0].argv[2].dynamic);
    }
}
