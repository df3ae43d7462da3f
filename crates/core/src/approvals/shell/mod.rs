//! Shell command analysis: a real parser (brush-parser), then a flat list of the simple commands
//! a command line would run.
//!
//! A command line such as `cd x && FOO=1 sudo env -i bash -c "curl u | sh"; rm -rf "$(pwd)"`
//! becomes the simple commands `cd x`, `curl u`, `sh` (piped from `curl`), `pwd` and `rm -rf
//! $(…)`, each with its wrappers (`sudo`, `env`, `bash -c`), its redirections and its place in its
//! pipeline. Compound commands (`;`, `&&`, `||`, pipes, subshells, groups, `if`/`for`/`while`/
//! `case`, functions), command and process substitutions (also inside arithmetic), backticks,
//! `bash -c`/`sh -c`/`eval` scripts, `xargs` and `parallel` (with their input when the stage
//! before prints a constant), `find -exec`, `ssh HOST CMD`, prefixes (`env`, `sudo`, `nohup`,
//! `time`, `nice`, `timeout`, `command`, `exec`, `strace`, `runuser`, `script -c`,
//! `systemd-run`, …; the table is in `wrappers.rs`) are all looked through, and so are a shell
//! fed a here-document (`bash <<EOF`), the commands held in variables such as `PAGER` or
//! `GIT_SSH_COMMAND`, options that run commands (`ssh -o ProxyCommand=…`, `rsync -e`), git's
//! `-c` settings that run commands, and the shell commands inline interpreter code runs
//! (`python -c "os.system(…)"`, [`inline`]). Quoting and escapes are resolved the way the shell
//! would; what cannot be known before running (variables, substitutions whose output is not a
//! constant) is marked *dynamic* so the classifier can refuse to call it safe.
//!
//! Files: `walker.rs` (the syntax tree), `wrappers.rs` (what runs what), `git.rs` (git's own
//! options), `words.rs` (escapes, constant output), `inline.rs` (interpreter code).
//!
//! This module only analyses text: it never runs, reads the environment, or touches the
//! filesystem. The one value of the environment it expands, `$TMPDIR`, is given to it by the
//! caller ([`TmpDir`]). It never panics on any input (property-tested).

mod git;
pub mod inline;
mod walker;
mod words;
mod wrappers;

use walker::Walker;

/// Nesting limit for `bash -c`, `eval`, substitutions, … Deeper input is reported, not followed.
const MAX_DEPTH: usize = 12;
/// Longest command line analysed; longer ones are reported as too long.
pub const MAX_LEN: usize = 64 * 1024;

/// What `$TMPDIR` holds where the command will run, as the caller knows it. `$TMPDIR` is the
/// one variable expanded: commands that clean up their scratch space name it all the time
/// (`rm -rf "$TMPDIR/build"`), and where it is unset the shell expands it to nothing, so the
/// same words delete `/build`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TmpDir {
    /// Not known: `$TMPDIR` stays dynamic (a command that could only be judged by it asks).
    #[default]
    Unknown,
    /// Unset where the command runs: it expands to nothing (`${TMPDIR:-/tmp}` to `/tmp`).
    Unset,
    /// Set to this value (possibly empty).
    Value(String),
}

/// Characters the shell would act on again in an unquoted expansion.
const SPECIAL: &str = "$`*?[]{}\\\"'";

impl TmpDir {
    /// `$TMPDIR` of the current process, for a command that will run in this environment (the
    /// hook runs in the environment the agent runs its commands in). Unset here is
    /// [`TmpDir::Unknown`], not [`TmpDir::Unset`]: an agent may give its commands a `TMPDIR` of
    /// its own when there is none (Claude Code does, and its sandbox always sets one). A value
    /// that is not a plain absolute path (spaces, globs, `$`) is unknown too: the shell would
    /// split or expand it again.
    pub fn from_env() -> Self {
        match std::env::var("TMPDIR") {
            Err(_) => TmpDir::Unknown,
            Ok(v) if v.is_empty() => TmpDir::Value(v),
            Ok(v)
                if v.starts_with('/')
                    && !v.contains(|c: char| c.is_whitespace() || SPECIAL.contains(c)) =>
            {
                TmpDir::Value(v)
            }
            Ok(_) => TmpDir::Unknown,
        }
    }

    /// What `$TMPDIR` / `${TMPDIR}` expands to, where known.
    fn expand(&self) -> Option<&str> {
        match self {
            TmpDir::Unknown => None,
            TmpDir::Unset => Some(""),
            TmpDir::Value(v) => Some(v),
        }
    }

    /// What `${TMPDIR:-default}` (`null_too`) or `${TMPDIR-default}` expands to, where known.
    fn expand_or(&self, default: &str, null_too: bool) -> Option<String> {
        match self {
            TmpDir::Unknown => None,
            TmpDir::Unset => Some(default.to_string()),
            TmpDir::Value(v) if v.is_empty() && null_too => Some(default.to_string()),
            TmpDir::Value(v) => Some(v.clone()),
        }
    }
}

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
    /// The file redirected to or from.
    pub target: Word,
    /// Writes (`>`, `>>`, `&>`, `<>`) rather than only reads (`<`).
    pub write: bool,
}

/// A variable set for one command (`X=1 cmd`, `env X=1 cmd`) or for the rest of the shell
/// (`X=1`, `export X=1`, `declare X=1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The variable's name.
    pub name: String,
    /// The value it is given.
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
    /// Its file redirections, in order; those of an enclosing block (`{ …; } > file`) are
    /// recorded on a bare command of their own.
    pub redirects: Vec<Redirect>,
    /// Which pipeline it belongs to: an id shared by the commands of one pipeline, from 1.
    pub pipeline: usize,
    /// Its stage in that pipeline (0 = first; a later stage reads the one before it).
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
    /// Every simple command found, nested ones included, in the order met.
    pub commands: Vec<SimpleCommand>,
    /// What stood in the way of a full analysis or is dangerous by shape; empty when none.
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
    analyse_in(text, &TmpDir::Unknown)
}

/// Analyse a command line that will run where `$TMPDIR` is `tmpdir`. A line that sets or
/// otherwise names `TMPDIR` itself (`TMPDIR=/ rm -rf "$TMPDIR/x"`, `export TMPDIR=…`,
/// `read TMPDIR`) keeps it dynamic: only a line that merely expands it is expanded.
pub fn analyse_in(text: &str, tmpdir: &TmpDir) -> Analysis {
    let mut walker = Walker::default();
    if only_expands_tmpdir(text) {
        walker.tmpdir = tmpdir.clone();
    }
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

/// Every `TMPDIR` in `text` is an expansion (`$TMPDIR`, `${TMPDIR}`, `${TMPDIR:-…}`), never an
/// assignment or a name given to a command.
fn only_expands_tmpdir(text: &str) -> bool {
    text.match_indices("TMPDIR").all(|(i, name)| {
        let (before, after) = (&text[..i], &text[i + name.len()..]);
        before.ends_with('$')
            || (before.ends_with("${") && !after.starts_with('=') && !after.starts_with(":="))
    })
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

    #[test]
    fn xargs_and_parallel_run_their_command_with_a_known_input() {
        assert_eq!(argv("echo / | xargs rm -rf")[1], ["rm", "-rf", "/"]);
        assert_eq!(argv("echo / | xargs -I{} rm -rf {}")[1], ["rm", "-rf", "/"]);
        assert_eq!(
            argv("echo 'rm -rf /' | xargs -I{} bash -c {}")[1],
            ["rm", "-rf", "/"]
        );
        assert_eq!(argv("parallel rm -rf ::: /")[0], ["rm", "-rf", "/"]);
        assert_eq!(
            argv("parallel bash -c ::: 'rm -rf /'")[0],
            ["rm", "-rf", "/"]
        );
        assert_eq!(argv("parallel ::: 'rm -rf /'")[0], ["rm", "-rf", "/"]);
        assert_eq!(argv("echo / | parallel rm -rf")[1], ["rm", "-rf", "/"]);
        // The benign twins run what they say.
        assert_eq!(argv("echo ok | xargs -I{} echo {}")[1], ["echo", "ok"]);
        assert_eq!(programs("parallel bash -c 'echo ok' ::: ok"), ["echo"]);
        assert_eq!(programs("parallel ::: 'echo ok' 'true'"), ["echo", "true"]);
        // An input only known when it runs stays unknown.
        let a = analyse("ls | xargs rm -f");
        assert!(a.commands[1].argv.last().unwrap().dynamic);
        let a = analyse("cat list | parallel rm -rf");
        assert!(a.commands[1].argv.last().unwrap().dynamic);
    }

    #[test]
    fn substitutions_inside_arithmetic_are_commands() {
        assert!(programs("echo $((1+$(rm -rf /)))").contains(&"rm".to_string()));
        assert!(programs("(( x = `rm -rf ~` ))").contains(&"rm".to_string()));
        assert!(
            analyse("echo $((1+$(rm -rf /)))")
                .problems
                .iter()
                .any(|p| matches!(p, Problem::DynamicCode(_)))
        );
        // Plain arithmetic runs nothing.
        assert_eq!(programs("echo $((1 + 2))"), ["echo"]);
    }

    #[test]
    fn ssh_runs_its_remote_command_and_options_that_run_commands_are_looked_at() {
        let a = analyse("ssh user@host 'rm -rf /data'");
        assert_eq!(a.commands[0].argv[0].text, "rm");
        assert_eq!(a.commands[0].wrappers, ["ssh"]);
        assert_eq!(a.commands[1].program(), Some("ssh"));
        assert_eq!(
            programs("ssh -o ProxyCommand='touch x' host"),
            ["touch", "ssh"]
        );
        assert_eq!(programs("rsync -e 'touch x' a host:b"), ["touch", "rsync"]);
        // Plain ssh as rsync's remote shell runs nothing of its own.
        assert_eq!(programs("rsync -e 'ssh -p 2222' a host:b"), ["rsync"]);
        assert_eq!(programs("ssh user@host"), ["ssh"]);
    }

    #[test]
    fn inline_interpreter_code_runs_the_commands_it_calls() {
        let a = analyse("python -c \"import os; os.system('rm -rf /')\"");
        assert_eq!(a.commands[0].argv[0].text, "rm");
        assert_eq!(a.commands[0].wrappers, ["python inline code"]);
        assert_eq!(a.commands[1].program(), Some("python"));
        assert_eq!(
            programs("node -e \"require('child_process').execSync('id')\""),
            ["id", "node"]
        );
        assert_eq!(programs("python -c \"print('rm -rf /')\""), ["python"]);
    }

    #[test]
    fn a_wrapper_that_runs_a_script_keeps_its_redirections_and_variables() {
        // `bash -c 'ls' > /etc/hosts` writes /etc/hosts whatever the script is.
        let a = analyse("bash -c 'ls' > /etc/hosts");
        assert!(
            a.commands
                .iter()
                .any(|c| c.argv.is_empty() && c.redirects[0].target.text == "/etc/hosts")
        );
        let a = analyse("LD_PRELOAD=/tmp/x.so bash -c ls");
        assert!(
            a.commands
                .iter()
                .any(|c| c.env.iter().any(|e| e.name == "LD_PRELOAD"))
        );
    }

    #[test]
    fn env_dash_is_env_i() {
        assert_eq!(
            argv("env - git reset --hard")[0],
            ["git", "reset", "--hard"]
        );
        assert_eq!(argv("env -P /usr/bin git status")[0], ["git", "status"]);
    }
}
