/* The recurrent part of a one-directional LSTM layer on the CPU, a few rows at a time.

   Each sequence of a batch is independent of the others, so a row runs through its own
   `len` steps with the recurrent weights hot in the L1 cache (four rows in step, sharing
   each load of a weight; shorter rows idle on zeros), and groups of rows are split between
   OpenMP threads with nothing to synchronise (the result does not depend on their number).
   Built with -fopenmp: loaded into a process that has imported torch, libgomp.so.1 resolves
   to torch's own copy, so these loops share PyTorch's thread pool. The input projection
   (x W_ih^T + b) and every weight gradient are large matrix products that the caller
   leaves to PyTorch's BLAS; only the step-by-step work is here.

   Gates in PyTorch's order i, f, g, o (G = 4H columns). Forward, for t < len:
       z   = gx[t] + W_hh h[t-1]
       i, f, o = sigmoid(z_i, z_f, z_o);  g = tanh(z_g)
       c[t] = f c[t-1] + i g;  h[t] = o tanh(c[t])
   Steps t >= len are written as zeros (outputs and gate gradients alike), so padding
   changes nothing. */

#include <string.h>

/* tanh as a rational function of degree 13/6 on [-7.9, 7.9] (Eigen's generic_fast_tanh_float;
   +-1 outside), within 2.8e-7 of tanh everywhere (checked on a 1e-5 grid over [-20, 20]).
   Only multiplies, adds and one divide, so loops over it vectorise without a vector math
   library. The sigmoid derived from it has the same absolute error (so a gate of 1e-9 reads
   0, which no gate or gradient notices). */
static inline float tanh_r(float x)
{
    const float clamp = 7.90531110763549805f;
    x = x < -clamp ? -clamp : (x > clamp ? clamp : x);
    const float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * x;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
}

static inline float sigmoid_r(float x) { return 0.5f + 0.5f * tanh_r(0.5f * x); }

#define R 4   /* rows advanced together: each load of a weight feeds R multiply-adds;
                 matvec_rows below is written out for exactly 4 */
#define CW 16 /* output columns per block of accumulators (R x CW floats in registers) */

/* 8 floats as one value (GCC / Clang vector extensions): named accumulators of this type
   stay in registers, where a float array would be stored back to memory at every step. */
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4))); /* unaligned access */

static inline v8 load8(const float *p) { return *(const v8u *)p; }
static inline void store8(float *p, v8 x) { *(v8u *)p = x; }

/* For each of the R rows r: out[r][0..n) = init[r][0..n) + v[r] (K) times the K x n matrix
   m (row stride `stride`). Blocks of CW = 16 columns keep R x 2 accumulators in registers;
   the last n % 16 columns take a plain loop. */
static void matvec_rows(int n, int K, const float *const *v, const float *restrict m,
                        int stride, const float *const *init, float *const *out)
{
    int j0 = 0;
    for (; j0 + CW <= n; j0 += CW) {
        v8 a00 = load8(init[0] + j0), a01 = load8(init[0] + j0 + 8);
        v8 a10 = load8(init[1] + j0), a11 = load8(init[1] + j0 + 8);
        v8 a20 = load8(init[2] + j0), a21 = load8(init[2] + j0 + 8);
        v8 a30 = load8(init[3] + j0), a31 = load8(init[3] + j0 + 8);
        const float *restrict w = m + j0;
        for (int k = 0; k < K; k++, w += stride) {
            const v8 w0 = load8(w), w1 = load8(w + 8);
            const float x0 = v[0][k], x1 = v[1][k], x2 = v[2][k], x3 = v[3][k];
            a00 += x0 * w0; a01 += x0 * w1;
            a10 += x1 * w0; a11 += x1 * w1;
            a20 += x2 * w0; a21 += x2 * w1;
            a30 += x3 * w0; a31 += x3 * w1;
        }
        store8(out[0] + j0, a00); store8(out[0] + j0 + 8, a01);
        store8(out[1] + j0, a10); store8(out[1] + j0 + 8, a11);
        store8(out[2] + j0, a20); store8(out[2] + j0 + 8, a21);
        store8(out[3] + j0, a30); store8(out[3] + j0 + 8, a31);
    }
    for (int r = 0; r < R; r++) {
        for (int j = j0; j < n; j++) {
            float acc = init[r][j];
            for (int k = 0; k < K; k++) acc += v[r][k] * m[(long long)k * stride + j];
            out[r][j] = acc;
        }
    }
}

/* One step of one row: a (G) holds the pre-activations and receives the gates; the new
   cell state, its tanh and the output go to ct, tct, ht. */
static inline void cell_forward(int H, float *restrict a, const float *restrict cp,
                                float *restrict ct, float *restrict tct, float *restrict ht)
{
    /* sigmoid on i, f (columns 0..2H) and o (3H..4H), tanh on g (2H..3H) */
    for (int j = 0; j < 2 * H; j++) a[j] = sigmoid_r(a[j]);
    for (int j = 2 * H; j < 3 * H; j++) a[j] = tanh_r(a[j]);
    for (int j = 3 * H; j < 4 * H; j++) a[j] = sigmoid_r(a[j]);
    for (int k = 0; k < H; k++) {
        const float cn = a[H + k] * cp[k] + a[k] * a[2 * H + k];
        const float th = tanh_r(cn);
        ct[k] = cn;
        tct[k] = th;
        ht[k] = a[3 * H + k] * th;
    }
}

/* One step of one row, backward: from the output gradient dh (its own plus the one from
   step t+1) and the cell gradient dcrec from step t+1, the gate gradients d (G); dcrec
   becomes the cell gradient passed to step t-1. */
static inline void cell_backward(int H, const float *restrict a, const float *restrict tct,
                                 const float *restrict cp, const float *restrict dhin,
                                 const float *restrict dhrec, float *restrict dcrec,
                                 float *restrict d)
{
    for (int k = 0; k < H; k++) {
        const float ig = a[k], fg = a[H + k], gg = a[2 * H + k], og = a[3 * H + k];
        const float th = tct[k];
        const float dht = dhin[k] + dhrec[k];
        const float dc = dcrec[k] + dht * og * (1.0f - th * th);
        d[k] = dc * gg * ig * (1.0f - ig);
        d[H + k] = dc * cp[k] * fg * (1.0f - fg);
        d[2 * H + k] = dc * ig * (1.0f - gg * gg);
        d[3 * H + k] = dht * th * og * (1.0f - og);
        dcrec[k] = dc * fg;
    }
}

/* Forward for all B rows, R at a time, the groups split between `threads` OpenMP threads.
   Layouts (contiguous float32): gx (B, T, G) input projection plus both biases;
   whh_t (H, G) = W_hh transposed; out: h (B, T, H), act (B, T, G) the gates after their
   activation, c (B, T, H), tc (B, T, H) = tanh(c). A row past its length (or a row number
   past B, in the last group) computes on zeros into a scratch buffer and stores nothing. */
void lstm_forward(int B, int T, int H, int threads, const long long *lengths,
                  const float *restrict gx, const float *restrict whh_t, float *restrict h,
                  float *restrict act, float *restrict c, float *restrict tc)
{
    const int G = 4 * H;
    const int groups = (B + R - 1) / R;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int grp = 0; grp < groups; grp++) {
        float zeros[G], scratch[R * G];
        for (int j = 0; j < G; j++) zeros[j] = 0.0f;
        int len[R], maxlen = 0;
        for (int r = 0; r < R; r++) {
            const int b = grp * R + r;
            len[r] = b < B ? (int)lengths[b] : 0;
            if (len[r] > maxlen) maxlen = len[r];
        }
        for (int t = 0; t < maxlen; t++) {
            const float *hp[R], *gxp[R];
            float *ap[R];
            for (int r = 0; r < R; r++) {
                const long long base = (long long)(grp * R + r) * T + t;
                const int on = t < len[r];
                hp[r] = on && t > 0 ? h + (base - 1) * H : zeros;
                gxp[r] = on ? gx + base * G : zeros;
                ap[r] = on ? act + base * G : scratch + r * G;
            }
            matvec_rows(G, H, hp, whh_t, G, gxp, ap); /* pre-activations */
            for (int r = 0; r < R; r++) {
                if (t >= len[r]) continue;
                const long long base = (long long)(grp * R + r) * T + t;
                const float *cp = t > 0 ? c + (base - 1) * H : zeros;
                cell_forward(H, ap[r], cp, c + base * H, tc + base * H, h + base * H);
            }
        }
        for (int r = 0; r < R; r++) {
            const int b = grp * R + r;
            if (b < B && len[r] < T)
                memset(h + ((long long)b * T + len[r]) * H, 0, sizeof(float) * H * (T - len[r]));
        }
    }
}

/* Backward for all B rows, R at a time: from dh (B, T, H), the gradient of the outputs,
   writes dz (B, T, G), the gradient of the gates before activation (zeros for t >= len).
   whh (G, H) is W_hh as stored. A row joins when t reaches its last step, with zero
   recurrent gradients (those of the steps past its length). */
void lstm_backward(int B, int T, int H, int threads, const long long *lengths,
                   const float *restrict whh, const float *restrict act, const float *restrict c,
                   const float *restrict tc, const float *restrict dh, float *restrict dz)
{
    const int G = 4 * H;
    const int groups = (B + R - 1) / R;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int grp = 0; grp < groups; grp++) {
        float zeros[G], dhrec[R * H], dcrec[R * H];
        for (int j = 0; j < G; j++) zeros[j] = 0.0f;
        for (int j = 0; j < R * H; j++) { dhrec[j] = 0.0f; dcrec[j] = 0.0f; }
        int len[R], maxlen = 0;
        for (int r = 0; r < R; r++) {
            const int b = grp * R + r;
            len[r] = b < B ? (int)lengths[b] : 0;
            if (len[r] > maxlen) maxlen = len[r];
            if (b < B && len[r] < T)
                memset(dz + ((long long)b * T + len[r]) * G, 0, sizeof(float) * G * (T - len[r]));
        }
        const float *zp[R];
        float *dhp[R];
        for (int r = 0; r < R; r++) { zp[r] = zeros; dhp[r] = dhrec + r * H; }
        for (int t = maxlen - 1; t >= 0; t--) {
            const float *dp[R];
            for (int r = 0; r < R; r++) {
                if (t >= len[r]) { dp[r] = zeros; continue; }
                const long long base = (long long)(grp * R + r) * T + t;
                const float *cp = t > 0 ? c + (base - 1) * H : zeros;
                cell_backward(H, act + base * G, tc + base * H, cp, dh + base * H,
                              dhrec + r * H, dcrec + r * H, dz + base * G);
                dp[r] = dz + base * G;
            }
            matvec_rows(H, G, dp, whh, H, zp, dhp); /* dh[t-1] = W_hh^T dz[t] */
        }
    }
}
