//! Reading a log's new complete lines: with `read` into a reused buffer, or through memory-mapped
//! windows; only lines holding a needle are handed on; lines longer than [`MAX_LINE_BYTES`] are
//! counted and skipped.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::read::FileDone;

/// Lines longer than this are counted and skipped without being held in memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Call `on_line` for every complete line from `start` that contains one of `needles` (with
/// its offset in the file); `done.end` ends up after the last complete line (an unterminated
/// tail is left for the next run: it may still be being written).
///
/// The needles are searched in whole buffers rather than line by line, so the many lines
/// without any cost one vector scan and no per-line work. Files are read with `read`, not
/// mapped: a log truncated while mapped would kill the process (SIGBUS).
pub(super) fn scan_lines(
    path: &Path,
    start: u64,
    done: &mut FileDone,
    map: bool,
    buf: &mut Vec<u8>,
    needles: &[memchr::memmem::Finder],
    mut on_line: impl FnMut(&[u8], u64, &mut FileDone),
) -> io::Result<()> {
    if map {
        return scan_mapped(path, start, done, needles, on_line);
    }
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    // Zeroed once per reader thread, not per file; a long line's room is not kept.
    buf.resize(1 << 18, 0);
    buf.shrink_to(1 << 18);
    let mut filled = 0usize;
    // Offset in the file of buf[0].
    let mut base = start;
    let mut skipping = false;
    loop {
        if filled == buf.len() {
            if buf.len() < MAX_LINE_BYTES {
                buf.resize((buf.len() * 2).min(MAX_LINE_BYTES), 0);
            } else {
                // One line fills the largest buffer: skip it up to its newline.
                done.oversized += 1;
                skipping = true;
                base += filled as u64;
                filled = 0;
            }
        }
        let n = file.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        done.bytes_read += n as u64;
        let chunk_start = filled;
        filled += n;
        let mut line_start = 0usize;
        if skipping {
            match memchr::memchr(b'\n', &buf[chunk_start..filled]) {
                Some(i) => {
                    line_start = chunk_start + i + 1;
                    skipping = false;
                    done.end = base + line_start as u64;
                }
                None => {
                    base += filled as u64;
                    filled = 0;
                    continue;
                }
            }
        }
        // The complete lines: up to the last newline (only the new bytes can hold one).
        let from = chunk_start.max(line_start);
        if let Some(last) = memchr::memrchr(b'\n', &buf[from..filled]) {
            let end = from + last + 1;
            let region = &buf[line_start..end];
            each_line_with(region, needles, |at, line| {
                on_line(line, base + (line_start + at) as u64, done)
            });
            line_start = end;
            done.end = base + end as u64;
        }
        if line_start > 0 {
            buf.copy_within(line_start..filled, 0);
            filled -= line_start;
            base += line_start as u64;
        }
        if buf.len() > (1 << 18) && filled < (1 << 17) {
            buf.truncate(1 << 18);
            buf.shrink_to_fit();
        }
    }
    Ok(())
}

/// [`scan_lines`] through memory-mapped windows of the file. Lines longer than
/// [`MAX_LINE_BYTES`] are counted and skipped as there.
pub(super) fn scan_mapped(
    path: &Path,
    start: u64,
    done: &mut FileDone,
    needles: &[memchr::memmem::Finder],
    mut on_line: impl FnMut(&[u8], u64, &mut FileDone),
) -> io::Result<()> {
    // Windows bound the mapped (resident) part of a large file. A line that does not fit in
    // one is looked at again in a window that holds any line of the largest size that is read.
    const WINDOW: u64 = 8 << 20;
    const WIDE: u64 = 2 * MAX_LINE_BYTES as u64;
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut pos = start;
    let mut skipping = false;
    let mut want = WINDOW;
    while pos < len {
        let size = (len - pos).min(want);
        // SAFETY: the map is read-only and dropped before this function returns. The logs are
        // only ever appended to; a file truncated meanwhile raises SIGBUS, which the callers
        // that turn mapping on handle by exiting (see `Ledger::map_files`).
        let window = unsafe {
            memmap2::MmapOptions::new()
                .offset(pos)
                .len(size as usize)
                .map(&file)?
        };
        #[cfg(unix)]
        let _ = window.advise(memmap2::Advice::Sequential);
        let bytes = &window[..];
        let mut from = 0usize;
        if skipping {
            match memchr::memchr(b'\n', bytes) {
                Some(i) => {
                    from = i + 1;
                    skipping = false;
                }
                None => {
                    pos += size;
                    done.bytes_read += size;
                    continue;
                }
            }
        }
        let Some(last) = memchr::memrchr(b'\n', &bytes[from..]).map(|i| from + i) else {
            if size == want && want < WIDE {
                want = WIDE;
                continue;
            }
            if size == want {
                // No newline in a wide window: a line longer than any that is read.
                want = WINDOW;
                done.oversized += 1;
                skipping = true;
                pos += size;
                done.bytes_read += size;
                continue;
            }
            break; // an unterminated tail: left for the next run
        };
        want = WINDOW;
        let region = &bytes[from..=last];
        each_line_with(region, needles, |at, line| {
            if line.len() > MAX_LINE_BYTES {
                done.oversized += 1;
            } else {
                on_line(line, pos + (from + at) as u64, done)
            }
        });
        pos += last as u64 + 1;
        done.bytes_read += last as u64 + 1;
        done.end = pos;
    }
    Ok(())
}

/// Make SIGBUS (a log truncated while it was mapped, see [`Ledger::map_files`](super::Ledger::map_files)) end the
/// process with a clear message and exit code 1 instead of a crash. Nothing is lost: the
/// ingest's transaction was not committed, and the next run reads the same bytes again.
pub fn exit_cleanly_on_sigbus() {
    extern "C" fn on_sigbus(_: libc::c_int) {
        const MSG: &[u8] = b"paios: a usage log changed size while it was being read; nothing was recorded, run the command again\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(1);
        }
    }
    let action = nix::sys::signal::SigAction::new(
        nix::sys::signal::SigHandler::Handler(on_sigbus),
        nix::sys::signal::SaFlags::empty(),
        nix::sys::signal::SigSet::empty(),
    );
    // SAFETY: the handler only calls async-signal-safe functions.
    if let Err(e) =
        unsafe { nix::sys::signal::sigaction(nix::sys::signal::Signal::SIGBUS, &action) }
    {
        tracing::debug!(error = %e, "could not install the SIGBUS handler");
    }
}

/// Call `found(offset, line)` for each line of `region` (whole lines, ending with a newline)
/// that contains one of `needles`, in order, once. A trailing `\r` is not part of the line.
pub(super) fn each_line_with(
    region: &[u8],
    needles: &[memchr::memmem::Finder],
    mut found: impl FnMut(usize, &[u8]),
) {
    // Next occurrence of each needle at or after `pos` (None: no more).
    let mut next: Vec<Option<usize>> = needles.iter().map(|f| f.find(region)).collect();
    let mut pos = 0;
    while let Some(hit) = next.iter().flatten().copied().min() {
        let line_from = pos + memchr::memrchr(b'\n', &region[pos..hit]).map_or(0, |i| i + 1);
        let line_end = hit + memchr::memchr(b'\n', &region[hit..]).unwrap_or(region.len() - hit);
        let mut line = &region[line_from..line_end];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        found(line_from, line);
        pos = (line_end + 1).min(region.len());
        for (slot, finder) in next.iter_mut().zip(needles) {
            if slot.is_some_and(|at| at < pos) {
                *slot = finder.find(&region[pos..]).map(|at| pos + at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn sigbus_ends_the_process_with_a_message_and_exit_code_1() {
        use std::io::Read;
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        // SAFETY: the child only calls async-signal-safe functions (dup2, sigaction, raise,
        // and, in the handler, write and _exit) before it ends.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => unsafe {
                libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&write_end), 2);
                exit_cleanly_on_sigbus();
                libc::raise(libc::SIGBUS);
                libc::_exit(99);
            },
            nix::unistd::ForkResult::Parent { child } => {
                drop(write_end);
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                let mut said = String::new();
                std::fs::File::from(read_end)
                    .read_to_string(&mut said)
                    .unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 1));
                assert!(
                    said.contains("changed size while it was being read"),
                    "{said}"
                );
            }
        }
    }
}
