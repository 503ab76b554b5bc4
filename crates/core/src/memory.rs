//! Region allocation in linear memory and offset-to-slice conversion.

use std::alloc::{alloc_zeroed, dealloc, Layout};

const ALIGN: usize = 64;

/// Allocates a zero-filled region of `bytes` bytes; returns its byte offset (0 only when `bytes` is 0).
pub fn alloc(bytes: usize) -> usize {
    if bytes == 0 {
        return 0;
    }
    let layout = Layout::from_size_align(bytes, ALIGN).expect("region too large");
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc_zeroed(layout) };
    if ptr.is_null() {
        std::process::abort();
    }
    ptr as usize
}

/// Frees a region from [`alloc`].
pub fn free(ptr: usize, bytes: usize) {
    if bytes == 0 || ptr == 0 {
        return;
    }
    let layout = Layout::from_size_align(bytes, ALIGN).expect("region too large");
    // SAFETY: `ptr` came from `alloc` with this layout.
    unsafe { dealloc(ptr as *mut u8, layout) }
}

/// # Safety
/// `ptr` must be the offset of `len` valid, aligned f32 values that nothing mutates meanwhile.
pub unsafe fn slice<'a>(ptr: usize, len: usize) -> &'a [f32] {
    if len == 0 {
        return &[];
    }
    std::slice::from_raw_parts(ptr as *const f32, len)
}

/// # Safety
/// `ptr` must be the offset of `len` valid, aligned f32 values that nothing else accesses meanwhile.
pub unsafe fn slice_mut<'a>(ptr: usize, len: usize) -> &'a mut [f32] {
    if len == 0 {
        return &mut [];
    }
    std::slice::from_raw_parts_mut(ptr as *mut f32, len)
}

/// # Safety
/// As [`slice`], for i32 values.
pub unsafe fn slice_i32<'a>(ptr: usize, len: usize) -> &'a [i32] {
    if len == 0 {
        return &[];
    }
    std::slice::from_raw_parts(ptr as *const i32, len)
}
