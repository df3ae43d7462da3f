//! The walk over brush-parser's syntax tree: compound commands, redirections, assignments,
//! substitutions and word expansion. Wrappers are looked through in [`super::wrappers`], git's
//! own options in [`super::git`].

use std::io::BufReader;

use brush_parser::ast;
use brush_parser::word::{
    Parameter, ParameterExpr, ParameterTestType, TildeExpr, WordPiece, WordPieceWithSource,
};

use super::words::{constant_output, decode_ansi_c};
use super::{
    Analysis, Assignment, Input, MAX_DEPTH, Problem, Redirect, SimpleCommand, TmpDir, Word,
};

/// What the words of one simple command set besides its arguments.
#[derive(Default)]
pub(super) struct Found {
    pub(super) words: Vec<Word>,
    pub(super) redirects: Vec<Redirect>,
    pub(super) env: Vec<Assignment>,
    pub(super) input: Option<Input>,
}

/// Walks the parser's syntax tree and collects the simple commands it would run.
#[derive(Default)]
pub(super) struct Walker {
    pub(super) commands: Vec<SimpleCommand>,
    pub(super) problems: Vec<Problem>,
    /// What `$TMPDIR` expands to ([`TmpDir::Unknown`]: it stays dynamic).
    pub(super) tmpdir: TmpDir,
    next_pipeline: usize,
}

fn parser_options() -> brush_parser::ParserOptions {
    brush_parser::ParserOptions::default()
}

impl Walker {
    pub(super) fn finish(self) -> Analysis {
        Analysis {
            commands: self.commands,
            problems: self.problems,
        }
    }

    pub(super) fn new_pipeline(&mut self) -> usize {
        self.next_pipeline += 1;
        self.next_pipeline
    }

    pub(super) fn program(&mut self, text: &str, depth: usize, wrappers: &[String]) {
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
                self.arithmetic(&a.expr.value, depth);
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
                    self.arithmetic(&e.value, depth);
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

    /// Arithmetic is inert unless it hides a substitution (`$(( 1 + $(rm -rf ~) ))`). The
    /// substitution runs, so it is analysed as the commands it is; what it prints is then
    /// evaluated as an expression (which can run more code through array subscripts), so the
    /// whole is code only known when it runs as well.
    pub(super) fn arithmetic(&mut self, text: &str, depth: usize) {
        if text.contains("$(") || text.contains('`') {
            self.problems
                .push(Problem::DynamicCode(format!("$(( {text} ))")));
            self.expand(text, depth + 1);
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
                if !prefix {
                    // `export X=…`, `declare X=…`, `ssh -o Key='a b'`: an argument of the
                    // command, with its quotes removed like any other word.
                    let text = match &assignment.value {
                        ast::AssignmentValue::Scalar(_) => format!("{name}={}", value.text),
                        ast::AssignmentValue::Array(_) => w.value.clone(),
                    };
                    found.words.push(Word {
                        text,
                        dynamic: value.dynamic,
                    });
                }
                found.env.push(Assignment { name, value });
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
    pub(super) fn expand_split(&mut self, raw: &str, depth: usize) -> Vec<Word> {
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
    pub(super) fn expand(&mut self, raw: &str, depth: usize) -> Word {
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
                        ParameterExpr::Parameter {
                            parameter: Parameter::Named(name),
                            indirect: false,
                        } if name == "TMPDIR"
                            && !raw.contains("..")
                            && self.tmpdir.expand().is_some() =>
                        {
                            w.text.push_str(self.tmpdir.expand().unwrap_or_default());
                        }
                        ParameterExpr::UseDefaultValues {
                            parameter: Parameter::Named(name),
                            indirect: false,
                            test_type,
                            default_value,
                        } if name == "TMPDIR"
                            && !raw.contains("..")
                            && let Some(value) = literal_default(default_value.as_deref())
                                .and_then(|d| {
                                    self.tmpdir.expand_or(
                                        d,
                                        matches!(test_type, ParameterTestType::UnsetOrNull),
                                    )
                                }) =>
                        {
                            w.text.push_str(&value);
                        }
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
                    self.arithmetic(&e.value, depth);
                    w.text.push_str(source);
                    w.dynamic = true;
                }
            }
        }
    }

    /// Analyse `text` as a script run by a wrapper (`bash -c`, `eval`, `su -c`, …); `dynamic`
    /// when it is only known at run time.
    pub(super) fn script(
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
}

/// The default of `${NAME:-default}` when it is plain text the shell would not expand again.
fn literal_default(default: Option<&str>) -> Option<&str> {
    let d = default.unwrap_or("");
    (!d.contains(|c: char| c.is_whitespace() || super::SPECIAL.contains(c) || c == '~'))
        .then_some(d)
}
