//! A direct kernel for small matrix products, bit-identical to matrixmultiply's fused kernels.
//!
//! matrixmultiply packs both operands into aligned panels before every product, about a
//! microsecond per call: more than the whole product for the course's small networks (a
//! `[2, 10, 5, 1]` network's step is eight products of at most 15,000 multiply-adds). Below
//! [`SMALL_GEMM_MADDS`] the engine computes the product here instead, and up to
//! [`IN_PLACE_GEMM_MADDS`] when the kernel can read its panels in place or, with AVX-512,
//! transpose them in registers ([`applies`]).
//!
//! What makes the result the same bits: matrixmultiply's AVX-512 and FMA/AVX2 kernels keep one
//! accumulator per element of `C`, start it at zero and add `a[i, p]·b[p, j]` with one fused
//! multiply-add per `p`, in increasing `p`, within blocks of [`GEMM_KC`] along `k`; the first
//! block's sum is stored (`α·acc` with `α = 1`, exact), each later block's is added to `C` with
//! one rounding (`β = 1`). This kernel does exactly that per element. Elements are independent,
//! so it is free to vectorize across a row of `C` (or a column: `Cᵀ = Bᵀ·Aᵀ` computes each
//! element with the same products in the same order, `a·b = b·a` exactly) and to work on
//! several rows at once, which is where its speed comes from; the width of its vectors (256
//! bits, or 512 where the processor has AVX-512) changes which elements share an instruction,
//! not any element's arithmetic. It runs only where matrixmultiply uses one of those fused
//! kernels (x86-64 with FMA and AVX2; see [`available`]); elsewhere every product goes to
//! matrixmultiply, so results never depend on which path ran.
//! `tests::matches_matrixmultiply_bit_for_bit` compares the two on many shapes and layouts, with
//! each vector width this processor has.

use crate::Float;

/// Products of at most this many multiply-adds (`m·k·n`) use [`small_gemm`], whatever their
/// layout.
pub(super) const SMALL_GEMM_MADDS: usize = 1 << 16;

/// Products of at most this many multiply-adds, and at most [`GEMM_KC`] deep, also use
/// [`small_gemm`] when one operand has unit column stride (`B`'s rows, or `Aᵀ`'s, are
/// contiguous): the kernel then reads its panels in place, where matrixmultiply would pack
/// both operands. The weight gradient `dZ·Xᵀ` of a dense layer over a batch is such a
/// product (`Xᵀ` is the batch's example-major rows); for MNIST's first layer at batch 32 (30
/// × 32 × 784) this made the f64 step ~5% faster. Products whose operands are both read
/// across their rows (`W·X`) are left to matrixmultiply, whose packing is then faster than
/// the kernel's element-by-element panel copies.
pub(super) const IN_PLACE_GEMM_MADDS: usize = 1 << 20;

/// The deepest product [`small_gemm`] takes, whatever its size: a copied panel holds its
/// whole depth (`k × NR` elements, 512 KiB at 4096, in a buffer the thread keeps), where
/// matrixmultiply packs 256-deep blocks. (Without it a dot product of 2^20-long vectors, a
/// `1 × 2^20 × 1` product, would have left a 128 MiB buffer behind.)
const MAX_DEPTH: usize = 4096;

/// matrixmultiply's depth blocking `kc`: 256 for every `f32` and `f64` kernel it has.
const GEMM_KC: usize = 256;

/// Rows of `C` computed together: `MR × VECS` = 12 independent accumulator chains, enough to
/// hide the fused multiply-add's latency, in 12 of the 16 vector registers.
const MR: usize = 6;

/// Whether this processor has what the kernel needs (FMA, AVX2), which is also exactly when
/// matrixmultiply computes with one of its fused kernels (its AVX-512 kernel on processors
/// with AVX-512, which all have FMA and AVX2; its FMA/AVX2 kernel otherwise).
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static FUSED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *FUSED.get_or_init(|| {
            std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("avx2")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the processor has AVX-512 (its foundation instructions), for 512-bit vectors.
fn wide() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static WIDE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *WIDE.get_or_init(|| std::arch::is_x86_feature_detected!("avx512f"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether a product of this shape and these strides goes to [`small_gemm`]: at most
/// [`MAX_DEPTH`] deep, and either small ([`SMALL_GEMM_MADDS`]), or read in place
/// ([`IN_PLACE_GEMM_MADDS`]), or, up to that size as well, with `B`'s columns (or `A`'s rows)
/// contiguous on a processor with AVX-512. The kernel then copies its panels a `W × W` block
/// at a time, transposed in registers, where matrixmultiply would pack both operands. A dense
/// layer's forward product `W·X` over a batch of example-major rows is such a product (`X` is
/// a transposed view); for MNIST's first layer at batch 32 (30 × 784 × 32) it took 33-37 µs
/// against matrixmultiply's 42-52 µs (f64), and products as deep as 4096 gained as much or
/// more (`docs/performance.md`, part 7).
pub(super) fn applies(
    m: usize,
    k: usize,
    n: usize,
    (rsa, csa): (isize, isize),
    (rsb, csb): (isize, isize),
) -> bool {
    let madds = m.saturating_mul(k).saturating_mul(n);
    let in_place = (csb == 1 || rsa == 1) && k <= GEMM_KC && madds <= IN_PLACE_GEMM_MADDS;
    let transposed = (rsb == 1 || csa == 1) && madds <= IN_PLACE_GEMM_MADDS && wide();
    (1..=MAX_DEPTH).contains(&k)
        && (madds <= SMALL_GEMM_MADDS || in_place || transposed)
        && available()
}

/// `C = A·B` into the row-major `m × n` buffer at `c`, `A` `m × k` and `B` `k × n` read
/// through their strides; bit-identical to matrixmultiply's gemm with `α = 1`, `β = 0` (see
/// the module documentation).
///
/// # Safety
/// [`available`] must be true (the kernel uses FMA and AVX2 instructions); `k > 0`; every
/// element `A[i, p]`, `B[p, j]` reachable through the strides must be readable, and `c` valid
/// for writing `m · n` elements not overlapping `A` or `B`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn small_gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: *const T,
    (rsa, csa): (isize, isize),
    b: *const T,
    (rsb, csb): (isize, isize),
    c: *mut T,
) {
    debug_assert!(available() && k > 0);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the caller's contract (`wide()` checked AVX-512F for the wide kernel); the
    // transposed call reads the same elements (`Bᵀ` is `n × k` with `B`'s strides swapped) and
    // writes `Cᵀ[j, i]` at `c + j + i·n`, the same `m · n` elements.
    unsafe {
        let (wide, transposed) = plan::<T>(m, k, n, (rsa, csa), (rsb, csb), wide());
        if transposed {
            fused::<T>(
                wide,
                n,
                k,
                m,
                b,
                (csb, rsb),
                a,
                (csa, rsa),
                c,
                (1, n as isize),
            );
        } else {
            fused::<T>(
                wide,
                m,
                k,
                n,
                a,
                (rsa, csa),
                b,
                (rsb, csb),
                c,
                (n as isize, 1),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (m, k, n, a, rsa, csa, b, rsb, csb, c);
        unreachable!("small_gemm: not available on this architecture");
    }
}

/// Which way to compute a product: with 512-bit vectors or 256-bit ones (`wide` says whether
/// the processor has the former), and `C` or `Cᵀ = Bᵀ·Aᵀ`. Every choice gives the same bits;
/// this picks the one an estimate of cycles favours. Per panel of `NR` columns: each tile of
/// `rows` rows issues `rows · VECS` fused multiply-adds per step of `k`, two per cycle, but
/// each chain waits four cycles for its previous step; a panel not readable in place from `B`
/// (strided, or narrower than `NR`) is first copied: transposed in registers when `B`'s
/// columns are contiguous and the vectors 512 bits wide, else one element at a time.
fn plan<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    (rsa, csa): (isize, isize),
    (rsb, csb): (isize, isize),
    wide: bool,
) -> (bool, bool) {
    // `csc == 1`: C is written row by row (else column by column, as `Cᵀ` is).
    // `wide`: 512-bit vectors, the only ones that transpose a copied panel in registers.
    let cost = |m: usize, n: usize, (rsb, csb): (isize, isize), csc_is_1: bool, wide: bool| {
        let lanes = (if wide { 64 } else { 32 }) / std::mem::size_of::<T>();
        let nr = VECS * lanes;
        let tiles = m.div_ceil(MR);
        let per_step = |rows: usize| (rows * VECS / 2).max(4);
        let steps = (m / MR) * per_step(MR) + usize::from(!m.is_multiple_of(MR)) * per_step(m % MR);
        let panel = |width: usize| {
            // Whole vectors are stored directly; anything else element by element.
            let store = if csc_is_1 && width == nr {
                m * VECS
            } else {
                2 * m * width
            };
            let copy = if csb == 1 && width == nr {
                0
            } else if rsb == 1 && width == nr && wide {
                // Transposed in registers: ~3 permutes per vector.
                k * nr / 2
            } else {
                k * width + k * nr / 8
            };
            k * steps + 30 * tiles + store + copy
        };
        let (full, rest) = (n / nr, n % nr);
        full * panel(nr) + usize::from(rest > 0) * panel(rest)
    };
    let widths: &[bool] = if wide { &[false, true] } else { &[false] };
    let mut best = (usize::MAX, false, false);
    for &w in widths {
        let c = cost(m, n, (rsb, csb), true, w);
        let t = cost(n, m, (csa, rsa), false, w);
        // A tie keeps C: fewer values to copy when B is a transposed view.
        for (transposed, cost) in [(false, c), (true, t)] {
            if cost < best.0 {
                best = (cost, w, transposed);
            }
        }
    }
    (best.1, best.2)
}

/// The kernel for `f32` or `f64` (the only `Float`s), 512-bit vectors or 256-bit, for any output
/// strides.
///
/// # Safety
/// As [`small_gemm`], with `C` written at `c + i·rsc + j·csc`; with `wide`, AVX-512F available.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn fused<T: Float>(
    wide: bool,
    m: usize,
    k: usize,
    n: usize,
    a: *const T,
    rs_ca: (isize, isize),
    b: *const T,
    rs_cb: (isize, isize),
    c: *mut T,
    rs_cc: (isize, isize),
) {
    use std::any::TypeId;
    let f64 = TypeId::of::<T>() == TypeId::of::<f64>();
    assert!(
        f64 || TypeId::of::<T>() == TypeId::of::<f32>(),
        "small_gemm: f32 or f64"
    );
    // SAFETY: the caller's contract; the casts are to `T` itself (checked by `TypeId` above:
    // `Wide64` and `Narrow64` compute in f64, the others in f32).
    unsafe {
        let (a64, b64, c64) = (a.cast::<f64>(), b.cast::<f64>(), c.cast::<f64>());
        let (a32, b32, c32) = (a.cast::<f32>(), b.cast::<f32>(), c.cast::<f32>());
        match (wide, f64) {
            (true, true) => columns_wide::<Wide64>(m, k, n, a64, rs_ca, b64, rs_cb, c64, rs_cc),
            (true, false) => columns_wide::<Wide32>(m, k, n, a32, rs_ca, b32, rs_cb, c32, rs_cc),
            (false, true) => {
                columns_narrow::<Narrow64>(m, k, n, a64, rs_ca, b64, rs_cb, c64, rs_cc)
            }
            (false, false) => {
                columns_narrow::<Narrow32>(m, k, n, a32, rs_ca, b32, rs_cb, c32, rs_cc)
            }
        }
    }
}

/// A vector of `f32` or `f64` lanes (256 or 512 bits) and the instructions the kernel uses.
#[cfg(target_arch = "x86_64")]
trait Lanes {
    /// The element type.
    type T: Float;
    /// The vector type.
    type V: Copy;
    /// Lanes per vector.
    const W: usize;
    /// # Safety
    /// The vector's instruction set available.
    unsafe fn vzero() -> Self::V;
    /// # Safety
    /// As `vzero`.
    unsafe fn vsplat(x: Self::T) -> Self::V;
    /// # Safety
    /// As `vzero`; `p` readable for `W` elements.
    unsafe fn vload(p: *const Self::T) -> Self::V;
    /// `a·b + c` with one rounding per lane.
    /// # Safety
    /// As `vzero`, and FMA available.
    unsafe fn vfma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b` per lane, one rounding.
    /// # Safety
    /// As `vzero`.
    unsafe fn vadd(a: Self::V, b: Self::V) -> Self::V;
    /// # Safety
    /// As `vzero`; `p` writable for `W` elements.
    unsafe fn vstore(p: *mut Self::T, v: Self::V);
    /// Runs `f` with this thread's panel buffer (reused from call to call: a fresh allocation
    /// per product showed up as heap trimming and page faults).
    fn with_scratch<R>(f: impl FnOnce(&mut Vec<Self::T>) -> R) -> R;
    /// Whether [`Lanes::vtranspose`] is implemented (with AVX-512's two-source permutes).
    const TRANSPOSES: bool;
    /// Transposes the `W × W` block whose rows are `v[0..W]` in registers: afterwards `v[r]`
    /// holds lane `r` of every former row, in order.
    /// # Safety
    /// As `vzero`; `TRANSPOSES`; `v.len() == W`.
    unsafe fn vtranspose(v: &mut [Self::V]);
}

/// Where lane `e` of the permute of stage `h` (1, 2, 4, …) of a `lanes × lanes` transpose
/// reads from, in the two-source numbering (`0..lanes` the first vector, `lanes..` the
/// second): stage `h` exchanges blocks of `h` lanes between rows `i` and `i + h`, `lo` giving
/// the new row `i`, `hi` the new row `i + h`. After the stages `1, 2, …, lanes / 2`, row `r`
/// holds lane `r` of every original row.
#[cfg(target_arch = "x86_64")]
const fn transpose_source(lanes: usize, h: usize, hi: bool, e: usize) -> usize {
    match (e & h == 0, hi) {
        (true, false) => e,
        (false, false) => lanes + e - h,
        (true, true) => e + h,
        (false, true) => lanes + e,
    }
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    static SCRATCH_F64: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
    static SCRATCH_F32: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `Lanes` for one element type and width: they differ only in the vector type, its width, the
/// intrinsics and the scratch buffer.
#[cfg(target_arch = "x86_64")]
macro_rules! impl_lanes {
    ($name:ident, $t:ty, $v:ident, $w:literal, $scratch:ident,
     $zero:ident, $set1:ident, $load:ident, $fmadd:ident, $store:ident, $add:ident,
     transpose: $transpose:tt) => {
        /// `Lanes` marker.
        struct $name;
        impl Lanes for $name {
            type T = $t;
            type V = std::arch::x86_64::$v;
            const W: usize = $w;
            #[inline(always)]
            unsafe fn vzero() -> Self::V {
                // SAFETY: the caller's contract.
                unsafe { std::arch::x86_64::$zero() }
            }
            #[inline(always)]
            unsafe fn vsplat(x: $t) -> Self::V {
                // SAFETY: the caller's contract.
                unsafe { std::arch::x86_64::$set1(x) }
            }
            #[inline(always)]
            unsafe fn vload(p: *const $t) -> Self::V {
                // SAFETY: the caller's contract.
                unsafe { std::arch::x86_64::$load(p) }
            }
            #[inline(always)]
            unsafe fn vfma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
                // SAFETY: the caller's contract.
                unsafe { std::arch::x86_64::$fmadd(a, b, c) }
            }
            #[inline(always)]
            unsafe fn vstore(p: *mut $t, v: Self::V) {
                // SAFETY: the caller's contract.
                unsafe { std::arch::x86_64::$store(p, v) }
            }
            fn with_scratch<R>(f: impl FnOnce(&mut Vec<$t>) -> R) -> R {
                $scratch.with(|s| f(&mut s.borrow_mut()))
            }
            #[inline(always)]
            unsafe fn vadd(a: Self::V, b: Self::V) -> Self::V {
                // SAFETY: the caller's contract.
                unsafe { std::arch::x86_64::$add(a, b) }
            }
            transpose_lanes!($w, $transpose);
        }
    };
}

/// `Lanes::TRANSPOSES` and `Lanes::vtranspose` for 256-bit vectors (`none`), or for 512-bit
/// ones with their two-source permute and its index type: `log2 W` stages of `W` permutes.
#[cfg(target_arch = "x86_64")]
macro_rules! transpose_lanes {
    ($w:literal, none) => {
        const TRANSPOSES: bool = false;
        unsafe fn vtranspose(_: &mut [Self::V]) {
            unreachable!("small_gemm: no transpose with 256-bit vectors")
        }
    };
    ($w:literal, ($permute:ident, $index:ty)) => {
        const TRANSPOSES: bool = true;
        #[inline(always)]
        unsafe fn vtranspose(rows: &mut [Self::V]) {
            use std::arch::x86_64::{__m512i, $permute};
            debug_assert!(rows.len() == $w);
            let mut h = 1;
            while h < $w {
                let index = |hi: bool| -> __m512i {
                    let lanes: [$index; $w] =
                        std::array::from_fn(|e| transpose_source($w, h, hi, e) as $index);
                    // SAFETY: 64 bytes either way; every bit pattern is a valid vector.
                    unsafe { std::mem::transmute::<[$index; $w], __m512i>(lanes) }
                };
                let (lo, hi) = (index(false), index(true));
                for i in (0..$w).filter(|i| i & h == 0) {
                    let (a, b) = (rows[i], rows[i + h]);
                    // SAFETY: AVX-512F is available (the caller's contract).
                    unsafe {
                        rows[i] = $permute(a, lo, b);
                        rows[i + h] = $permute(a, hi, b);
                    }
                }
                h *= 2;
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
impl_lanes!(
    Narrow64,
    f64,
    __m256d,
    4,
    SCRATCH_F64,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_loadu_pd,
    _mm256_fmadd_pd,
    _mm256_storeu_pd,
    _mm256_add_pd,
    transpose: none
);
#[cfg(target_arch = "x86_64")]
impl_lanes!(
    Narrow32,
    f32,
    __m256,
    8,
    SCRATCH_F32,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps,
    _mm256_add_ps,
    transpose: none
);
#[cfg(target_arch = "x86_64")]
impl_lanes!(
    Wide64,
    f64,
    __m512d,
    8,
    SCRATCH_F64,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_loadu_pd,
    _mm512_fmadd_pd,
    _mm512_storeu_pd,
    _mm512_add_pd,
    transpose: (_mm512_permutex2var_pd, i64)
);
#[cfg(target_arch = "x86_64")]
impl_lanes!(
    Wide32,
    f32,
    __m512,
    16,
    SCRATCH_F32,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps,
    _mm512_add_ps,
    transpose: (_mm512_permutex2var_ps, i32)
);

/// Vectors per row of a tile: a tile is `ROWS × (VECS · W)` elements of `C`.
const VECS: usize = 2;

/// The most elements a tile row can have: `VECS` vectors of 16 `f32` lanes.
const MAX_NR: usize = 32;

/// The most lanes a vector has (16 `f32`).
const MAX_W: usize = 16;

/// The kernel, compiled once per instruction set (`$features`) so that the vector intrinsics
/// of `Lanes` inline into it.
#[cfg(target_arch = "x86_64")]
macro_rules! kernel {
    ($columns:ident, $tile:ident, $features:literal) => {
        /// Computes `C` in panels of `NR = VECS · W` columns, [`MR`] rows at a time. A panel is read
        /// from `B` in place when its rows are contiguous and whole (`csb = 1`, `NR` columns);
        /// otherwise it is first copied into a `k × NR` row-major buffer, zero-padded past `n`:
        /// `W × W` blocks transposed in registers where `B`'s columns are contiguous (`rsb = 1`)
        /// and the lanes can do it, element by element elsewhere.
        ///
        /// # Safety
        /// As [`fused`].
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $columns<L: Lanes>(
            m: usize,
            k: usize,
            n: usize,
            a: *const L::T,
            (rsa, csa): (isize, isize),
            b: *const L::T,
            (rsb, csb): (isize, isize),
            c: *mut L::T,
            (rsc, csc): (isize, isize),
        ) {
            L::with_scratch(|packed| {
                let nr = VECS * L::W;
                for j0 in (0..n).step_by(nr) {
                    let width = nr.min(n - j0);
                    let (panel, prs) = if csb == 1 && width == nr {
                        (b.wrapping_add(j0), rsb)
                    } else {
                        let transpose = L::TRANSPOSES && rsb == 1 && width == nr;
                        if width < nr {
                            // The columns past `n` are zeros.
                            packed.clear();
                        }
                        packed.resize(k * nr, <L::T as num_traits::Zero>::zero());
                        let dst = packed.as_mut_ptr();
                        // Columns of B contiguous: `W × W` blocks transposed in registers, all but
                        // the last `k mod W` rows.
                        let done = if transpose { k - k % L::W } else { 0 };
                        for p0 in (0..done).step_by(L::W) {
                            for v in 0..VECS {
                                let mut block = [L::vzero(); MAX_W];
                                let block = &mut block[..L::W];
                                for (jj, row) in block.iter_mut().enumerate() {
                                    let col = (j0 + v * L::W + jj) as isize * csb;
                                    // SAFETY: column j0 + v·W + jj < n of B, rows p0..p0 + W ≤ k,
                                    // contiguous (rsb = 1).
                                    *row =
                                        unsafe { L::vload(b.wrapping_offset(col + p0 as isize)) };
                                }
                                // SAFETY: TRANSPOSES; W rows; then row p0 + r of the panel gets
                                // lanes v·W.. of block row r, inside `packed` (p0 + r < k).
                                unsafe {
                                    L::vtranspose(block);
                                    for (r, &row) in block.iter().enumerate() {
                                        L::vstore(dst.add((p0 + r) * nr + v * L::W), row);
                                    }
                                }
                            }
                        }
                        // Column by column: a transposed view (a weight gradient's `Aᵀ`) is then read
                        // contiguously.
                        for jj in 0..width {
                            let src = b.wrapping_offset((j0 + jj) as isize * csb);
                            for p in done..k {
                                // SAFETY: p < k, j0 + jj < n: an element of B; p·nr + jj < k·nr, the
                                // length of `packed`.
                                unsafe { *dst.add(p * nr + jj) = *src.offset(p as isize * rsb) };
                            }
                        }
                        (packed.as_ptr(), nr as isize)
                    };
                    let mut i0 = 0;
                    while i0 < m {
                        let rows = MR.min(m - i0);
                        let a0 = a.wrapping_offset(i0 as isize * rsa);
                        let c0 = c.wrapping_offset(i0 as isize * rsc + j0 as isize * csc);
                        let cs = (rsc, csc);
                        // SAFETY: rows i0..i0 + rows of A and C, columns j0..j0 + width of C, all inside
                        // the caller's bounds (so the offsets above stay inside the buffers); the panel
                        // holds k rows of nr readable values at stride prs.
                        unsafe {
                            match rows {
                                6 => $tile::<L, 6>(k, a0, (rsa, csa), (panel, prs), c0, cs, width),
                                5 => $tile::<L, 5>(k, a0, (rsa, csa), (panel, prs), c0, cs, width),
                                4 => $tile::<L, 4>(k, a0, (rsa, csa), (panel, prs), c0, cs, width),
                                3 => $tile::<L, 3>(k, a0, (rsa, csa), (panel, prs), c0, cs, width),
                                2 => $tile::<L, 2>(k, a0, (rsa, csa), (panel, prs), c0, cs, width),
                                1 => $tile::<L, 1>(k, a0, (rsa, csa), (panel, prs), c0, cs, width),
                                _ => unreachable!("small_gemm: {rows} rows in a tile"),
                            }
                        }
                        i0 += rows;
                    }
                }
            })
        }

        /// `ROWS × NR` elements of `C` (the first `width` columns stored), one fused multiply-add chain
        /// each over `p` in increasing order, in [`GEMM_KC`]-deep blocks.
        ///
        /// # Safety
        /// `a` points at row 0 of `ROWS` readable rows of `k` elements (strides `rsa`, `csa`); the
        /// panel has `k` rows of `NR` readable values, row `p` at `panel + p·prs`; `c` is valid for
        /// writing `ROWS × width` elements at its strides; AVX2 and FMA available.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $tile<L: Lanes, const ROWS: usize>(
            k: usize,
            a: *const L::T,
            (rsa, csa): (isize, isize),
            (panel, prs): (*const L::T, isize),
            c: *mut L::T,
            (rsc, csc): (isize, isize),
            width: usize,
        ) {
            let nr = VECS * L::W;
            // SAFETY (whole body): AVX2 and FMA are available (the caller's contract); the panel is
            // read at rows p < k, VECS vectors of W values each; A at rows < ROWS, columns < k; C
            // written at rows < ROWS, columns < width.
            unsafe {
                for p0 in (0..k).step_by(GEMM_KC) {
                    let mut acc = [[L::vzero(); VECS]; ROWS];
                    for p in p0..(p0 + GEMM_KC).min(k) {
                        let p = p as isize;
                        let brow = panel.offset(p * prs);
                        let bv: [L::V; VECS] =
                            std::array::from_fn(|v| L::vload(brow.add(v * L::W)));
                        for (ii, acc_row) in acc.iter_mut().enumerate() {
                            let x = L::vsplat(*a.offset(ii as isize * rsa + p * csa));
                            for (s, &y) in acc_row.iter_mut().zip(&bv) {
                                *s = L::vfma(x, y, *s);
                            }
                        }
                    }
                    if csc == 1 && width == nr {
                        for (ii, acc_row) in acc.iter().enumerate() {
                            let row = c.offset(ii as isize * rsc);
                            for (v, &s) in acc_row.iter().enumerate() {
                                let dst = row.add(v * L::W);
                                if p0 == 0 {
                                    L::vstore(dst, s);
                                } else {
                                    L::vstore(dst, L::vadd(L::vload(dst), s));
                                }
                            }
                        }
                        continue;
                    }
                    let mut out = [<L::T as num_traits::Zero>::zero(); MAX_NR];
                    for (ii, acc_row) in acc.iter().enumerate() {
                        for (v, &s) in acc_row.iter().enumerate() {
                            L::vstore(out.as_mut_ptr().add(v * L::W), s);
                        }
                        for (jj, &s) in out[..width].iter().enumerate() {
                            let dst = c.offset(ii as isize * rsc + jj as isize * csc);
                            if p0 == 0 {
                                dst.write(s);
                            } else {
                                dst.write(*dst + s);
                            }
                        }
                    }
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
kernel!(columns_narrow, tile_narrow, "avx2,fma");
#[cfg(target_arch = "x86_64")]
kernel!(columns_wide, tile_wide, "avx512f,avx2,fma");
#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values of varied magnitude and sign, so that rounding differences show.
    fn values<T: Float>(n: usize, salt: u64) -> Vec<T> {
        let mut z = salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                z ^= z << 13;
                z ^= z >> 7;
                z ^= z << 17;
                let u = (z >> 11) as f64 / (1u64 << 53) as f64;
                T::from_f64((u - 0.37) * (1.0 + (z % 1000) as f64))
            })
            .collect()
    }

    fn check_type<T: Float>() {
        let shapes = [
            (1, 1, 1),
            (10, 2, 300),
            (5, 10, 211),
            (1, 5, 64),
            (20, 211, 2),
            (10, 300, 2),
            (5, 300, 10),
            (3, 255, 7),
            (3, 256, 7),
            (2, 257, 65),
            (1, 600, 100),
            (17, 13, 129),
            (9, 7, 5),
            (33, 40, 31),
            // Beyond SMALL_GEMM_MADDS, where only in-place or transposed panels route here: a
            // dense layer's weight gradient and forward product at batch 32 (MNIST's first
            // layer), a full-depth block, and depths that are whole blocks of 8 and 16 lanes.
            (30, 32, 784),
            (30, 784, 32),
            (64, 256, 64),
            (17, 64, 33),
            (5, 48, 40),
        ];
        for (case, &(m, k, n)) in shapes.iter().enumerate() {
            let a: Vec<T> = values(m * k, 2 * case as u64 + 1);
            let b: Vec<T> = values(k * n, 2 * case as u64 + 2);
            // Row-major and transposed (column-major) readings of both operands.
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let sa = if ta { (1, m as isize) } else { (k as isize, 1) };
                let sb = if tb { (1, k as isize) } else { (n as isize, 1) };
                let mut want = vec![T::nan(); m * n];
                // SAFETY: every buffer holds exactly the elements the strides reach.
                unsafe {
                    T::gemm(
                        m,
                        k,
                        n,
                        T::one(),
                        a.as_ptr(),
                        sa.0,
                        sa.1,
                        b.as_ptr(),
                        sb.0,
                        sb.1,
                        T::zero(),
                        want.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
                // Both vector widths this processor has, each way round (`C` and `Cᵀ`), and
                // the entry point's own choice.
                let widths: &[bool] = if wide() { &[false, true] } else { &[false] };
                for (path, &w) in widths.iter().enumerate() {
                    for transposed in [false, true] {
                        let mut got = vec![T::nan(); m * n];
                        // SAFETY: as above; the kernels run only when available (checked by
                        // the caller), the wide one only with AVX-512F (`wide`).
                        unsafe {
                            if transposed {
                                fused::<T>(
                                    w,
                                    n,
                                    k,
                                    m,
                                    b.as_ptr(),
                                    (sb.1, sb.0),
                                    a.as_ptr(),
                                    (sa.1, sa.0),
                                    got.as_mut_ptr(),
                                    (1, n as isize),
                                );
                            } else {
                                fused::<T>(
                                    w,
                                    m,
                                    k,
                                    n,
                                    a.as_ptr(),
                                    sa,
                                    b.as_ptr(),
                                    sb,
                                    got.as_mut_ptr(),
                                    (n as isize, 1),
                                );
                            }
                        }
                        compare(&want, &got, &format!("({m}, {k}, {n}) transposed {ta}/{tb}, wide {w}, Cᵀ {transposed}, path {path}"));
                    }
                }
                let mut got = vec![T::nan(); m * n];
                // SAFETY: as above.
                unsafe { small_gemm(m, k, n, a.as_ptr(), sa, b.as_ptr(), sb, got.as_mut_ptr()) };
                compare(
                    &want,
                    &got,
                    &format!("({m}, {k}, {n}) transposed {ta}/{tb}, entry point"),
                );
            }
        }
    }

    fn compare<T: Float>(want: &[T], got: &[T], case: &str) {
        let differ = want
            .iter()
            .zip(got)
            .filter(|(x, y)| x.as_f64().to_bits() != y.as_f64().to_bits())
            .count();
        if let Some(i) =
            (0..want.len()).find(|&i| want[i].as_f64().to_bits() != got[i].as_f64().to_bits())
        {
            eprintln!("first differing {i}: want {} got {}", want[i], got[i]);
        }
        assert_eq!(differ, 0, "{} {case}: {differ} elements differ", T::NAME);
    }

    #[test]
    fn larger_products_route_here_only_with_in_place_or_transposed_panels() {
        if !available() {
            return;
        }
        let row_major = |cols: usize| (cols as isize, 1);
        let column_major = |rows: usize| (1, rows as isize);
        // dZ·Xᵀ at batch 32: Xᵀ's rows are contiguous (csb = 1).
        assert!(applies(30, 32, 784, row_major(32), row_major(784)));
        // Its transpose read as Cᵀ: Aᵀ's rows are contiguous (rsa = 1).
        assert!(applies(784, 32, 30, column_major(784), column_major(32)));
        // W·X with X a transposed view: both operands read across their rows, so the panels
        // are copied, which only the 512-bit kernel does fast enough (a transpose in
        // registers); up to 4096 deep.
        assert_eq!(
            applies(30, 784, 32, row_major(784), column_major(784)),
            wide()
        );
        assert_eq!(
            applies(16, 4096, 16, row_major(4096), column_major(4096)),
            wide()
        );
        // Deeper, whatever the size: the panel buffer would hold it all (a dot product of
        // 2^20-long vectors, whose single column of B is also contiguous, would need 128 MiB).
        assert!(!applies(16, 4097, 16, row_major(4097), column_major(4097)));
        assert!(!applies(1, 1 << 20, 1, row_major(1 << 20), (1, 1)));
        assert!(!applies(1, 4097, 1, row_major(4097), (1, 1)));
        // Neither in place nor transposable (B's columns strided), deeper than one block:
        // matrixmultiply.
        let strided = (2 * 257, 2);
        assert!(!applies(30, 257, 784, row_major(257), strided));
        // Larger than the bound, whatever the layout: matrixmultiply.
        assert!(!applies(64, 256, 65, row_major(256), row_major(65)));
        assert!(!applies(64, 256, 65, row_major(256), column_major(256)));
        // Small products come here whatever their layout.
        assert!(applies(10, 2, 300, strided, strided));
        assert!(!applies(10, 0, 300, row_major(0), row_major(300)));
    }

    #[test]
    fn matches_matrixmultiply_bit_for_bit() {
        if !available() {
            eprintln!("no FMA/AVX2: the direct kernel is never used on this processor");
            return;
        }
        check_type::<f32>();
        check_type::<f64>();
    }
}
