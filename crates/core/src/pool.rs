//! Work sharing between the calling (main) thread and worker threads that run [`worker_loop`] over the
//! same shared linear memory.
//!
//! A job is `n` independent tasks `f(0) … f(n−1)`, each writing outputs no other task writes. Tasks are
//! claimed one at a time from an atomic counter by the caller and every awake worker, so a worker that
//! wakes late (or a core busy with another process) only means the others take more tasks. Which
//! thread runs a task never changes what it computes, so results are the same bit for bit with any
//! number of threads.
//!
//! Protocol (all SeqCst): the caller publishes the job (closure pointer, count, counter), opens it, bumps
//! `GEN` and wakes the workers; it claims tasks until none is left, closes the job, and waits until no
//! worker is inside it. A worker announces itself in `ACTIVE` *before* it checks that the job is open,
//! so after the caller has seen `ACTIVE == 0` with the job closed, no worker can touch the (stack-held)
//! closure again.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};

/// Bumped once per job; idle workers wait on it.
static GEN: AtomicU32 = AtomicU32::new(0);
/// Whether the published job may still be entered.
static OPEN: AtomicBool = AtomicBool::new(false);
/// Workers inside the current job.
static ACTIVE: AtomicU32 = AtomicU32::new(0);
/// Workers running [`worker_loop`].
static WORKERS: AtomicU32 = AtomicU32::new(0);
/// Most threads a job may use (the caller included): workers in slots at or above it sit jobs out.
static LIMIT: AtomicUsize = AtomicUsize::new(MAX_THREADS);
/// Held by the thread dispatching a job; any other caller meanwhile runs its tasks alone.
static DISPATCHING: AtomicBool = AtomicBool::new(false);
/// The job: address of a `&(dyn Fn(usize) + Sync)` on the caller's stack, its task count, the next
/// unclaimed task.
static JOB: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Polls of `GEN` before an idle worker sleeps (a few tens of microseconds: the gap between two ops).
const SPINS: u32 = 1 << 15;

type Task<'a> = &'a (dyn Fn(usize) + Sync);

/// Runs `f(i)` for every `i < n`, on this thread and every worker that joins.
pub fn for_each(n: usize, f: &(dyn Fn(usize) + Sync)) {
    if n == 0 {
        return;
    }
    if n == 1
        || threads() == 1
        || DISPATCHING
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_err()
    {
        (0..n).for_each(f);
        return;
    }
    let task: Task = f;
    JOB.store(&task as *const Task as usize, SeqCst);
    COUNT.store(n, SeqCst);
    NEXT.store(0, SeqCst);
    OPEN.store(true, SeqCst);
    GEN.fetch_add(1, SeqCst);
    wake_all();
    claim_tasks(f);
    OPEN.store(false, SeqCst);
    while ACTIVE.load(SeqCst) != 0 {
        std::hint::spin_loop();
    }
    DISPATCHING.store(false, SeqCst);
}

/// Number of threads a job can use now: the caller and the workers, up to the limit.
pub fn threads() -> usize {
    (1 + WORKERS.load(SeqCst) as usize).min(LIMIT.load(SeqCst))
}

/// Sets the most threads a job may use (the caller included, at least 1). Results do not depend on it.
pub fn set_limit(threads: usize) {
    LIMIT.store(threads.clamp(1, MAX_THREADS), SeqCst);
}

fn claim_tasks(f: Task) {
    let n = COUNT.load(SeqCst);
    loop {
        let i = NEXT.fetch_add(1, SeqCst);
        if i >= n {
            break;
        }
        f(i);
    }
}

/// The body of a worker thread: waits for jobs and takes part in each, forever (the thread is ended
/// with its isolate). `slot` (1 .. [`MAX_THREADS`], distinct among the workers; the caller is 0)
/// picks the worker's scratch buffers; a worker whose slot is at or above the limit sits jobs out.
pub fn worker_loop(slot: usize) {
    assert!(slot > 0 && slot < MAX_THREADS);
    SLOT.with(|s| s.set(slot));
    WORKERS.fetch_add(1, SeqCst);
    let mut seen = GEN.load(SeqCst);
    loop {
        let mut spins = 0;
        while GEN.load(SeqCst) == seen {
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                wait_while(&GEN, seen);
            }
        }
        seen = GEN.load(SeqCst);
        if slot >= LIMIT.load(SeqCst) {
            continue;
        }
        ACTIVE.fetch_add(1, SeqCst);
        if OPEN.load(SeqCst) {
            // SAFETY: the job is open and this worker is counted in ACTIVE, so the caller has not
            // returned from `for_each` and the closure it points to is alive (see the module notes).
            let f: Task = unsafe { *(JOB.load(SeqCst) as *const Task) };
            claim_tasks(f);
        }
        ACTIVE.fetch_sub(1, SeqCst);
    }
}

/// Most threads a job uses (slots of per-thread scratch).
pub const MAX_THREADS: usize = 64;

thread_local! {
    /// This thread's slot: 0 for any thread not running [`worker_loop`].
    static SLOT: Cell<usize> = const { Cell::new(0) };
}

/// A per-thread scratch buffer, reused across calls: slot `s` belongs to the worker of slot `s` (or,
/// for 0, to whichever other thread holds its lock). A thread that finds its slot busy (two host
/// threads calling kernels at once) gets a fresh buffer instead.
pub fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    with_buffer(&SCRATCH[SLOT.with(|s| s.get())], len, f)
}

fn with_buffer<R>(cell: &Scratch, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    if cell.busy.swap(true, SeqCst) {
        return f(&mut vec![0.0; len]);
    }
    // SAFETY: the `busy` flag gives this thread the buffer alone until it is cleared below.
    let buf = unsafe { &mut *cell.buf.get() };
    // The slice handed out starts on a 64-byte line: vector loads never straddle two lines, and the
    // speed of a kernel does not depend on where the allocator happened to put its buffer.
    if buf.len() < len + 16 {
        buf.resize(len + 16, 0.0);
    }
    let skip = buf.as_ptr().align_offset(64);
    let r = f(&mut buf[skip..skip + len]);
    cell.busy.store(false, SeqCst);
    r
}

/// A buffer that every thread of one job reads (the matmul's packed block of B, which the job before
/// it filled), reused across calls. Filling and reading never overlap because [`for_each`] returns
/// only when no thread is inside its job any more. A second user meanwhile (a kernel called from
/// inside a task) gets a fresh buffer instead.
pub fn with_shared<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    with_buffer(&SHARED, len, f)
}

static SHARED: Scratch = Scratch {
    busy: AtomicBool::new(false),
    buf: UnsafeCell::new(Vec::new()),
};

struct Scratch {
    busy: AtomicBool,
    buf: UnsafeCell<Vec<f32>>,
}

// SAFETY: `buf` is only reached through `with_buffer`, which holds `busy`.
unsafe impl Sync for Scratch {}

static SCRATCH: [Scratch; MAX_THREADS] = [const {
    Scratch {
        busy: AtomicBool::new(false),
        buf: UnsafeCell::new(Vec::new()),
    }
}; MAX_THREADS];

/// `f(start, end)` over `0..n` in chunks of `chunk` (the last one shorter), as parallel tasks. The
/// chunks do not depend on the thread count, so neither do results that combine per-chunk values.
pub fn for_chunks(n: usize, chunk: usize, f: &(dyn Fn(usize, usize) + Sync)) {
    let chunk = chunk.max(1);
    for_each(n.div_ceil(chunk), &|t| {
        f(t * chunk, ((t + 1) * chunk).min(n))
    });
}

#[cfg(target_arch = "wasm32")]
fn wait_while(word: &AtomicU32, value: u32) {
    // SAFETY: `word` is a live, aligned u32 in linear memory.
    unsafe {
        std::arch::wasm32::memory_atomic_wait32(word.as_ptr() as *mut i32, value as i32, -1);
    }
}

#[cfg(target_arch = "wasm32")]
fn wake_all() {
    // SAFETY: as above.
    unsafe {
        std::arch::wasm32::memory_atomic_notify(GEN.as_ptr() as *mut i32, u32::MAX);
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn wait_while(word: &AtomicU32, value: u32) {
    while word.load(SeqCst) == value {
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn wake_all() {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn jobs_run_every_task_once_with_workers_joining_and_sitting_out() {
        let run = || {
            let hits: Vec<AtomicU64> = (0..1000).map(|_| AtomicU64::new(0)).collect();
            for_each(hits.len(), &|i| {
                hits[i].fetch_add(i as u64 + 1, SeqCst);
            });
            for (i, h) in hits.iter().enumerate() {
                assert_eq!(h.load(SeqCst), i as u64 + 1);
            }
        };
        run();
        // Workers live as long as the process (as in wasm, where they end with their isolate).
        for slot in 1..3 {
            std::thread::spawn(move || worker_loop(slot));
        }
        while WORKERS.load(SeqCst) < 2 {
            std::thread::yield_now();
        }
        for _ in 0..200 {
            run();
        }
        set_limit(2);
        run();
        set_limit(1);
        assert_eq!(threads(), 1);
        run();
        set_limit(MAX_THREADS);
        run();
    }
}
