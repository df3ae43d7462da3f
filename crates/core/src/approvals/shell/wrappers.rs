//! Wrappers: programs that run another command (`sudo CMD`, `env X=1 CMD`, `bash -c SCRIPT`,
//! `xargs CMD`, `parallel CMD ::: ARGS`, `ssh HOST CMD`, …), as a table of how each finds the
//! command it runs, and the walk that looks through them to the commands that really run.
//!
//! Adding a wrapper is adding a row to [`WRAPPERS`]; only a wrapper with a shape of its own needs
//! a new [`Runs`] case.

use super::inline;
use super::walker::{Found, Walker};
use super::words::constant_output;
use super::{Assignment, SimpleCommand, Word};

/// Shells whose `-c` argument is a script.
pub(super) const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "yash",
];

/// How a wrapper finds the command it runs.
#[derive(Debug, Clone, Copy)]
enum Runs {
    /// After its options (those listed take a value) and `operands` words of its own, the rest
    /// of its words are the command: `sudo -u root CMD`, `timeout 5 CMD`, `chroot DIR CMD`.
    Command {
        options_with_value: &'static [&'static str],
        operands: usize,
    },
    /// `command CMD`; `command -v NAME` only looks NAME up and runs nothing.
    CommandBuiltin,
    /// `env [-i] [-u NAME] [NAME=VALUE…] CMD`, `env -S 'CMD ARGS'`.
    Env,
    /// A shell: `sh -c SCRIPT`, `bash <<EOF`, `sh <<< 'CMD'`.
    Shell,
    /// `busybox APPLET …` runs the applet (a shell applet as a shell).
    Busybox,
    /// Its words, joined, are a script: `eval …`, `watch [-n N] …`.
    JoinedScript {
        options_with_value: &'static [&'static str],
    },
    /// A script given with `-c`/`--command`: `su -c SCRIPT USER`, `script -qc SCRIPT FILE`,
    /// `sg GROUP -c SCRIPT` or `sg GROUP CMD…`; `runuser -u USER CMD` names the command itself.
    ScriptOption,
    /// `xargs [opts] CMD …`: CMD with the words read from its input.
    Xargs,
    /// `parallel [opts] [CMD] ::: ARGS`: CMD once per argument (or each argument as a command
    /// line when there is no CMD); arguments read from its input without `:::`.
    Parallel,
    /// `ssh [opts] HOST CMD…`: CMD runs in the remote user's shell (joined with spaces).
    Remote,
}

/// Every wrapper PAIOS looks through.
const WRAPPERS: &[(&[&str], Runs)] = &[
    (
        &["sudo", "doas", "run0", "pkexec"],
        Runs::Command {
            options_with_value: &["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"],
            operands: 0,
        },
    ),
    (
        &[
            "nohup",
            "time",
            "builtin",
            "setsid",
            "chronic",
            "unbuffer",
            "torsocks",
            "caffeinate",
            "proxychains",
            "proxychains4",
            "noglob",
        ],
        Runs::Command {
            options_with_value: &[],
            operands: 0,
        },
    ),
    (&["command"], Runs::CommandBuiltin),
    (&["env"], Runs::Env),
    (
        &["exec"],
        Runs::Command {
            options_with_value: &["-a"],
            operands: 0,
        },
    ),
    (
        &["strace", "ltrace"],
        Runs::Command {
            options_with_value: &[
                "-o", "-e", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-P", "-S", "-X", "-n",
                "-l", "-L", "-x",
            ],
            operands: 0,
        },
    ),
    (
        &["chroot"],
        Runs::Command {
            options_with_value: &["--userspec", "--groups"],
            operands: 1,
        },
    ),
    // `taskset MASK cmd`, `taskset -c LIST cmd`: the mask or list, then the command.
    (
        &["taskset"],
        Runs::Command {
            options_with_value: &[],
            operands: 1,
        },
    ),
    (
        &["systemd-run"],
        Runs::Command {
            options_with_value: &[
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
            operands: 0,
        },
    ),
    (&["runuser", "su", "sg", "script"], Runs::ScriptOption),
    (
        &["nice", "renice"],
        Runs::Command {
            options_with_value: &["-n", "--adjustment"],
            operands: 0,
        },
    ),
    (
        &["ionice"],
        Runs::Command {
            options_with_value: &["-c", "-n", "--class", "--classdata"],
            operands: 0,
        },
    ),
    (
        &["stdbuf"],
        Runs::Command {
            options_with_value: &["-i", "-o", "-e"],
            operands: 0,
        },
    ),
    (
        &["timeout"],
        Runs::Command {
            options_with_value: &["-s", "-k", "--signal", "--kill-after"],
            operands: 1,
        },
    ),
    (
        &["flock"],
        Runs::Command {
            options_with_value: &["-w", "-E", "--timeout", "--conflict-exit-code"],
            operands: 1,
        },
    ),
    (&["xargs"], Runs::Xargs),
    (&["parallel"], Runs::Parallel),
    (
        &["watch"],
        Runs::JoinedScript {
            options_with_value: &["-n", "--interval", "-d"],
        },
    ),
    (
        &["eval"],
        Runs::JoinedScript {
            options_with_value: &[],
        },
    ),
    (SHELLS, Runs::Shell),
    (&["busybox"], Runs::Busybox),
    (&["ssh"], Runs::Remote),
];

fn wrapper(program: &str) -> Option<Runs> {
    WRAPPERS
        .iter()
        .find(|(names, _)| names.contains(&program))
        .map(|(_, runs)| *runs)
}

/// `runuser -u USER [--] cmd …`: the command's own words follow (its `-c` is its own, not a
/// script).
const RUNUSER_OPTIONS_WITH_VALUE: &[&str] = &[
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
];

/// xargs options that take a value (GNU and BSD).
const XARGS_OPTIONS_WITH_VALUE: &[&str] = &[
    "-I",
    "-J",
    "-L",
    "-l",
    "-n",
    "-P",
    "-d",
    "-E",
    "-e",
    "-s",
    "-a",
    "-R",
    "-S",
    "--max-args",
    "--max-procs",
    "--delimiter",
    "--arg-file",
    "--max-lines",
    "--max-chars",
    "--eof",
    "--process-slot-var",
];

/// GNU parallel options that take a value.
const PARALLEL_OPTIONS_WITH_VALUE: &[&str] = &[
    "-j",
    "--jobs",
    "-S",
    "--sshlogin",
    "--joblog",
    "--delay",
    "--timeout",
    "-N",
    "-n",
    "--max-args",
    "--colsep",
    "-C",
    "-a",
    "--arg-file",
    "--results",
    "--tmpdir",
    "--tagstring",
    "--retries",
    "--memfree",
    "--load",
    "-l",
    "--workdir",
    "--env",
    "-E",
    "--sshloginfile",
];

/// ssh options that take a value.
const SSH_OPTIONS_WITH_VALUE: &[&str] = &[
    "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o", "-p", "-Q",
    "-R", "-S", "-W", "-w", "-B", "-P",
];

/// How many arguments of `parallel … :::` or lines of its input are judged one by one.
const MAX_EXPANSIONS: usize = 16;

/// A wrapper's position in the walk: where its command belongs.
struct At<'a> {
    pipeline: usize,
    stage: usize,
    depth: usize,
    wrappers: &'a [String],
}

impl Walker {
    /// Look through wrappers (`sudo`, `env`, `bash -c`, `xargs`, …) and record the commands that
    /// really run.
    pub(super) fn unwrap(
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
            let program = base_name(&first.text).to_string();
            let rest = &words[1..];
            let Some(runs) = wrapper(&program) else {
                if program == "find" {
                    let at = At {
                        pipeline,
                        stage,
                        depth,
                        wrappers: &wrappers,
                    };
                    self.find_exec(rest, &at);
                }
                self.option_scripts(&program, rest, pipeline, stage, depth, &wrappers);
                if program == "find" {
                    // find's own words: the commands `-exec` runs are commands of their own.
                    words = without_exec_commands(&words);
                }
                break;
            };
            let at = At {
                pipeline,
                stage,
                depth,
                wrappers: &wrappers,
            };
            let inner: Option<Vec<Word>> = match runs {
                Runs::Command {
                    options_with_value,
                    operands,
                } => skip_options(rest, options_with_value)
                    .map(|v| v.into_iter().skip(operands).collect()),
                Runs::CommandBuiltin => {
                    if rest.iter().any(|w| w.text == "-v" || w.text == "-V") {
                        None
                    } else {
                        skip_options(rest, &[])
                    }
                }
                Runs::Env => match self.env(rest, &mut found, &program, &at) {
                    Some(next) => next,
                    None => {
                        self.leftovers(found, &at);
                        return;
                    }
                },
                Runs::Shell => {
                    if self.shell(&program, rest, &found, &at) {
                        self.leftovers(found, &at);
                        return;
                    }
                    None
                }
                Runs::Busybox => match rest.first() {
                    Some(w) if SHELLS.contains(&w.text.as_str()) => {
                        if self.shell(&w.text, &rest[1..], &found, &at) {
                            self.leftovers(found, &at);
                            return;
                        }
                        None
                    }
                    // Other applets run as themselves.
                    Some(_) => {
                        words.remove(0);
                        continue;
                    }
                    None => None,
                },
                Runs::JoinedScript { options_with_value } => {
                    let v = if options_with_value.is_empty() {
                        Some(rest.to_vec()).filter(|v| !v.is_empty())
                    } else {
                        skip_options(rest, options_with_value)
                    };
                    if let Some(v) = v {
                        let script = joined(&v);
                        let wr = with(&wrappers, &program);
                        self.script(&script.text, script.dynamic, pipeline, stage, depth, &wr);
                        self.leftovers(found, &at);
                        return;
                    }
                    None
                }
                Runs::ScriptOption => {
                    if program == "runuser"
                        && rest.iter().any(|w| w.text == "-u" || w.text == "--user")
                    {
                        skip_options(rest, RUNUSER_OPTIONS_WITH_VALUE)
                    } else {
                        let script = match (command_option(rest), program.as_str()) {
                            (Some(script), _) => Some(script),
                            // `sg GROUP cmd …`: the rest is the command line.
                            (None, "sg") => rest.get(1..).filter(|v| !v.is_empty()).map(joined),
                            _ => None,
                        };
                        if let Some(script) = script {
                            let wr = with(&wrappers, &program);
                            self.script(&script.text, script.dynamic, pipeline, stage, depth, &wr);
                            self.leftovers(found, &at);
                            return;
                        }
                        None
                    }
                }
                Runs::Xargs => Some(self.xargs(rest, &at)),
                Runs::Parallel => {
                    self.parallel(rest, &at);
                    self.leftovers(found, &at);
                    return;
                }
                Runs::Remote => {
                    self.remote(rest, &at);
                    break;
                }
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
                let wr = with(&wrappers, &format!("{}=", a.name));
                self.script(text, a.value.dynamic, pipeline, stage, depth, &wr);
            }
        }
        let words = self.git(words, pipeline, stage, depth, &wrappers);
        self.inline_code(&words, pipeline, stage, depth, &wrappers);
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

    /// What a wrapper that ran a script leaves to judge: its redirections and the variables it
    /// set (`LD_PRELOAD=x bash -c …`, `bash -c … > /etc/hosts`), as a command without a program.
    fn leftovers(&mut self, found: Found, at: &At) {
        if found.redirects.is_empty() && found.env.is_empty() {
            return;
        }
        for a in &found.env {
            if COMMAND_VARIABLES.contains(&a.name.as_str()) {
                let text = a.value.text.trim_start_matches('|');
                let wr = with(at.wrappers, &format!("{}=", a.name));
                self.script(text, a.value.dynamic, at.pipeline, at.stage, at.depth, &wr);
            }
        }
        self.commands.push(SimpleCommand {
            argv: Vec::new(),
            env: found.env,
            input: None,
            wrappers: at.wrappers.to_vec(),
            redirects: found.redirects,
            pipeline: at.pipeline,
            stage: at.stage,
        });
    }

    /// `env`: `Some(its command's words)` (`Some(None)` when none follows), or `None` when it ran
    /// a script (`env -S`) and the walk is done.
    fn env(
        &mut self,
        rest: &[Word],
        found: &mut Found,
        program: &str,
        at: &At,
    ) -> Option<Option<Vec<Word>>> {
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
            let wr = with(at.wrappers, program);
            self.script(&text, script.dynamic, at.pipeline, at.stage, at.depth, &wr);
            return None;
        }
        // `env -` is `env -i`.
        let rest: Vec<Word> = rest.iter().filter(|w| w.text != "-").cloned().collect();
        Some(
            skip_options(&rest, &["-u", "-C", "-P", "--unset", "--chdir"]).map(|mut v| {
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
            }),
        )
    }

    /// A shell given a script (`-c SCRIPT`, or a here-document / here-string as its input):
    /// the script is analysed. `false` when it reads something else (a script file, a pipe).
    fn shell(&mut self, program: &str, rest: &[Word], found: &Found, at: &At) -> bool {
        if let Some(script) = shell_script_argument(rest) {
            let wr = with(at.wrappers, &format!("{program} -c"));
            self.script(
                &script.text,
                script.dynamic,
                at.pipeline,
                at.stage,
                at.depth,
                &wr,
            );
            return true;
        }
        // `bash <<EOF … EOF`, `sh <<< 'cmd'`: the text is the script.
        if let Some(super::Input::Text(text)) = &found.input
            && skip_options(rest, &[]).is_none()
        {
            let wr = with(at.wrappers, &format!("{program} <<"));
            self.script(
                &text.text,
                text.dynamic,
                at.pipeline,
                at.stage,
                at.depth,
                &wr,
            );
            return true;
        }
        false
    }

    /// `xargs [opts] CMD…`: CMD with the words read from its input (`echo` without CMD). The
    /// input is known when the stage before it prints a constant (`echo / | xargs rm -rf`).
    fn xargs(&mut self, rest: &[Word], at: &At) -> Vec<Word> {
        let (options, command) = split_options(rest, XARGS_OPTIONS_WITH_VALUE);
        let mut replace: Option<String> = None;
        let mut from_file = false;
        let mut null_separated = false;
        for (i, o) in options.iter().enumerate() {
            let t = o.text.as_str();
            match t {
                "-I" | "-J" => replace = options.get(i + 1).map(|w| w.text.clone()),
                "-i" | "--replace" => replace = Some("{}".into()),
                "-a" | "--arg-file" => from_file = true,
                "-0" | "--null" => null_separated = true,
                "-d" | "--delimiter" => null_separated = true,
                _ => {
                    if let Some(r) = t.strip_prefix("--replace=") {
                        replace = Some(if r.is_empty() { "{}".into() } else { r.into() });
                    } else if let Some(r) = t.strip_prefix("-I").or_else(|| t.strip_prefix("-i")) {
                        if !r.is_empty() {
                            replace = Some(r.into());
                        }
                    } else if t.starts_with("--arg-file=") || (t.starts_with("-a") && t.len() > 2) {
                        from_file = true;
                    } else if t.starts_with("--delimiter=") || (t.starts_with("-d") && t.len() > 2)
                    {
                        null_separated = true;
                    }
                }
            }
        }
        let mut command = command.to_vec();
        if command.is_empty() {
            command.push(Word::literal("echo"));
        }
        let input = if from_file || null_separated {
            None
        } else {
            self.constant_input(at)
        };
        // A replace string the command does not use: read as appending the input (BSD and GNU
        // differ, and a command that names no input is not worth the risk).
        let replace = replace.filter(|r| command.iter().any(|w| w.text.contains(r.as_str())));
        let placeholder = replace.clone().unwrap_or_default();
        match (input, replace) {
            // One run per input line, the line in place of the placeholder.
            (Some(lines), Some(_)) => {
                let lines: Vec<&str> = lines.lines().filter(|l| !l.trim().is_empty()).collect();
                for line in lines.iter().skip(1).take(MAX_EXPANSIONS) {
                    let words = substitute(&command, &placeholder, line);
                    let wr = with(at.wrappers, "xargs");
                    self.unwrap(
                        words,
                        Found::default(),
                        at.pipeline,
                        at.stage,
                        at.depth + 1,
                        wr,
                    );
                }
                match lines.first() {
                    Some(line) => substitute(&command, &placeholder, line),
                    None => command,
                }
            }
            // `echo 'rm -rf /' | xargs bash -c`: the input is the script (bash would take only
            // its first word as the script and the rest as arguments; judged as the whole line).
            (Some(text), None) if command.last().is_some_and(|w| is_script_option(&w.text)) => {
                command.push(Word::literal(text.trim()));
                command
            }
            (Some(text), None) => {
                command.extend(text.split_whitespace().map(Word::literal));
                command
            }
            (None, Some(_)) => command
                .into_iter()
                .map(|w| {
                    if w.text.contains(&placeholder) {
                        Word {
                            text: w.text,
                            dynamic: true,
                        }
                    } else {
                        w
                    }
                })
                .collect(),
            (None, None) => {
                // xargs appends words read from its input.
                command.push(Word {
                    text: "{xargs input}".into(),
                    dynamic: true,
                });
                command
            }
        }
    }

    /// `parallel [opts] [CMD] ::: ARGS …`: CMD once per argument, the argument in place of `{}`
    /// (or appended); without CMD each argument is a command line. Without `:::` the arguments
    /// are the lines of its input.
    fn parallel(&mut self, rest: &[Word], at: &At) {
        let split = rest
            .iter()
            .position(|w| matches!(w.text.as_str(), ":::" | "::::" | ":::+" | "::::+"));
        let (head, tail) = match split {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        let (_, command) = split_options(head, PARALLEL_OPTIONS_WITH_VALUE);
        let mut args: Vec<Word> = Vec::new();
        let mut unknown = false;
        match tail {
            Some(tail) => {
                let mut from_files = false;
                for w in tail {
                    match w.text.as_str() {
                        ":::" | ":::+" => from_files = false,
                        "::::" | "::::+" => from_files = true,
                        _ if from_files => unknown = true,
                        _ => args.push(w.clone()),
                    }
                }
            }
            None => match self.constant_input(at) {
                Some(text) => args.extend(
                    text.lines()
                        .filter(|l| !l.trim().is_empty())
                        .map(Word::literal),
                ),
                None => unknown = true,
            },
        }
        if unknown {
            args.push(Word {
                text: "{parallel input}".into(),
                dynamic: true,
            });
        }
        let wr = with(at.wrappers, "parallel");
        for arg in args.iter().take(MAX_EXPANSIONS) {
            if command.is_empty() {
                self.script(&arg.text, arg.dynamic, at.pipeline, at.stage, at.depth, &wr);
                continue;
            }
            let placeholder = command.iter().any(|w| w.text.contains("{}"));
            let words = if placeholder {
                command
                    .iter()
                    .map(|w| {
                        if w.text.contains("{}") {
                            Word {
                                text: w.text.replace("{}", &arg.text),
                                dynamic: w.dynamic || arg.dynamic,
                            }
                        } else {
                            w.clone()
                        }
                    })
                    .collect()
            } else {
                let mut words = command.to_vec();
                words.push(arg.clone());
                words
            };
            self.unwrap(
                words,
                Found::default(),
                at.pipeline,
                at.stage,
                at.depth + 1,
                wr.clone(),
            );
        }
        if args.is_empty() && !command.is_empty() {
            self.unwrap(
                command.to_vec(),
                Found::default(),
                at.pipeline,
                at.stage,
                at.depth + 1,
                wr,
            );
        }
    }

    /// `ssh [opts] HOST [CMD…]`: the remote command is analysed as a script run by `ssh`; the
    /// ssh command itself is then recorded whole (its host is judged by the web rules; without
    /// a command it is an interactive shell).
    fn remote(&mut self, rest: &[Word], at: &At) {
        self.option_scripts("ssh", rest, at.pipeline, at.stage, at.depth, at.wrappers);
        let (_, positional) = split_options(rest, SSH_OPTIONS_WITH_VALUE);
        if positional.len() > 1 {
            let script = joined(&positional[1..]);
            let wr = with(at.wrappers, "ssh");
            self.script(
                &script.text,
                script.dynamic,
                at.pipeline,
                at.stage,
                at.depth,
                &wr,
            );
        }
    }

    /// Options whose value is a command the program runs on this machine: ssh's
    /// `-o ProxyCommand=…` (and `LocalCommand`, `KnownHostsCommand`), rsync's `-e`/`--rsh`.
    fn option_scripts(
        &mut self,
        program: &str,
        rest: &[Word],
        pipeline: usize,
        stage: usize,
        depth: usize,
        wrappers: &[String],
    ) {
        let mut scripts: Vec<Word> = Vec::new();
        match program {
            "ssh" | "scp" | "sftp" => {
                for (i, w) in rest.iter().enumerate() {
                    let value = if w.text == "-o" {
                        rest.get(i + 1)
                    } else if w.text.starts_with("-o") {
                        Some(w)
                    } else {
                        None
                    };
                    let Some(value) = value else { continue };
                    let text = value.text.strip_prefix("-o").unwrap_or(&value.text);
                    if let Some((key, command)) = text.split_once(['=', ' ']) {
                        let key = key.to_ascii_lowercase();
                        if matches!(
                            key.as_str(),
                            "proxycommand" | "localcommand" | "knownhostscommand"
                        ) {
                            scripts.push(Word {
                                text: command.to_string(),
                                dynamic: value.dynamic,
                            });
                        }
                    }
                }
            }
            "rsync" => {
                for (i, w) in rest.iter().enumerate() {
                    if w.text == "-e" || w.text == "--rsh" {
                        scripts.extend(rest.get(i + 1).cloned());
                    } else if let Some(v) = w.text.strip_prefix("--rsh=") {
                        scripts.push(Word {
                            text: v.to_string(),
                            dynamic: w.dynamic,
                        });
                    }
                }
            }
            _ => {}
        }
        for script in scripts {
            // rsync's remote shell is given the host and a command after these words.
            if program == "rsync" && is_plain_ssh(&script.text) {
                continue;
            }
            let wr = with(wrappers, &format!("{program} option"));
            self.script(&script.text, script.dynamic, pipeline, stage, depth, &wr);
        }
    }

    /// What the one command of the previous stage of this pipeline prints, when it is a
    /// constant (`echo / | xargs rm -rf`).
    fn constant_input(&self, at: &At) -> Option<String> {
        if at.stage == 0 {
            return None;
        }
        let before: Vec<SimpleCommand> = self
            .commands
            .iter()
            .filter(|c| c.pipeline == at.pipeline && c.stage + 1 == at.stage)
            .cloned()
            .collect();
        let text = constant_output(&before)?;
        // xargs reads quotes and backslashes itself; such input is not followed.
        (!text.contains(['\'', '"', '\\'])).then_some(text)
    }

    /// `python -c CODE`, `node -e CODE`, …: the shell commands the code runs are analysed as
    /// scripts run by the interpreter (see [`inline`]).
    fn inline_code(
        &mut self,
        words: &[Word],
        pipeline: usize,
        stage: usize,
        depth: usize,
        wrappers: &[String],
    ) {
        let Some(program) = words.first().filter(|w| !w.dynamic) else {
            return;
        };
        let program = base_name(&program.text);
        let Some((language, code)) = inline::code_argument(program, &words[1..]) else {
            return;
        };
        let wr = with(wrappers, &format!("{program} inline code"));
        for script in inline::commands(language, &code.text) {
            self.script(&script, code.dynamic, pipeline, stage, depth, &wr);
        }
    }

    /// `find … -exec CMD {} ;` runs CMD for every file found.
    fn find_exec(&mut self, args: &[Word], at: &At) {
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
                    let wr = with(at.wrappers, "find -exec");
                    self.unwrap(
                        inner,
                        Found::default(),
                        at.pipeline,
                        at.stage,
                        at.depth + 1,
                        wr,
                    );
                }
                i = end + 1;
            } else {
                i += 1;
            }
        }
    }
}

/// `find … -exec CMD ARGS ; …` as `find … -exec ; …`.
fn without_exec_commands(words: &[Word]) -> Vec<Word> {
    let mut out = Vec::new();
    let mut inside = false;
    for w in words {
        if inside {
            if w.text == ";" || w.text == "+" {
                inside = false;
                out.push(w.clone());
            }
            continue;
        }
        inside = matches!(w.text.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir");
        out.push(w.clone());
    }
    out
}

/// A program's base name (`/usr/bin/rm` → `rm`).
fn base_name(text: &str) -> &str {
    text.rsplit('/').next().unwrap_or(text)
}

/// `wrappers` with one more, innermost.
fn with(wrappers: &[String], name: &str) -> Vec<String> {
    let mut v = wrappers.to_vec();
    v.push(name.to_string());
    v
}

/// Words joined with spaces, as `eval`, `watch` and `ssh` join them.
fn joined(words: &[Word]) -> Word {
    Word {
        text: words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        dynamic: words.iter().any(|w| w.dynamic),
    }
}

/// `-c`, `-lc`, `-ec`: a shell option bundle that ends in `c` (the script follows).
fn is_script_option(text: &str) -> bool {
    text.strip_prefix('-')
        .is_some_and(|o| !o.starts_with('-') && o.ends_with('c'))
}

/// `command` with `placeholder` replaced by `value` in every word.
fn substitute(command: &[Word], placeholder: &str, value: &str) -> Vec<Word> {
    command
        .iter()
        .map(|w| Word {
            text: w.text.replace(placeholder, value),
            dynamic: w.dynamic,
        })
        .collect()
}

/// `ssh`, `ssh -p 22`, …: a remote shell for rsync that is plain ssh (rsync's default), with no
/// command of its own.
fn is_plain_ssh(text: &str) -> bool {
    text.split_whitespace()
        .next()
        .is_some_and(|p| base_name(p) == "ssh")
        && !text.to_ascii_lowercase().contains("command")
        && !text.contains([';', '&', '|', '`', '$', '(', ')', '<', '>'])
}

/// A wrapper's options (with the values of `with_value` options) and the words after them.
fn split_options<'a>(rest: &'a [Word], with_value: &[&str]) -> (&'a [Word], &'a [Word]) {
    let mut i = 0;
    while i < rest.len() {
        let t = rest[i].text.as_str();
        if t == "--" {
            return (&rest[..i], &rest[i + 1..]);
        }
        if !t.starts_with('-') || t == "-" || rest[i].dynamic {
            break;
        }
        i += if with_value.contains(&t) { 2 } else { 1 };
    }
    let i = i.min(rest.len());
    (&rest[..i], &rest[i..])
}

/// Skip a wrapper's options (and the values of `with_value` options) up to its command.
/// `None` when nothing follows.
fn skip_options(rest: &[Word], with_value: &[&str]) -> Option<Vec<Word>> {
    let (_, v) = split_options(rest, with_value);
    if v.is_empty() { None } else { Some(v.to_vec()) }
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
    "RSYNC_RSH",
];
