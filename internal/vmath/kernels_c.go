//go:build cgo && !purego

package vmath

/*
#cgo CFLAGS: -O3 -Wno-psabi
#cgo LDFLAGS: -lm
#include <stdint.h>
#include <string.h>

// Built twice where GCC can pick a version when the library loads: AVX2 or baseline.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define VM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VM_CLONES
#endif

// vm_exp is vmath.Exp32 for x <= 88.7, with inputs below -87.3 clamped there (e^-87.3
// is 1e-38, not 0); NaN stays NaN. Branch-free, so that loops of it vectorise.
static inline float vm_exp(float x) {
	x = x < -87.33654f ? -87.33654f : x;
	float t = x * 1.44269504088896341f + 12582912.0f;
	float n = t - 12582912.0f;
	float r = x - n * 0.693359375f - n * -2.12194440e-4f;
	float p = 1.0f / 720;
	p = p * r + 1.0f / 120;
	p = p * r + 1.0f / 24;
	p = p * r + 1.0f / 6;
	p = p * r + 0.5f;
	p = p * r + 1;
	p = p * r + 1;
	int32_t bits;
	memcpy(&bits, &t, 4);
	int32_t scale = (((bits & 0x7fffff) - 0x400000) + 127) << 23;
	float s;
	memcpy(&s, &scale, 4);
	return p * s;
}

// vm_erf is vmath.Erf32.
static inline float vm_erf(float x) {
	x = x < -4.0f ? -4.0f : x;
	x = x > 4.0f ? 4.0f : x;
	float x2 = x * x;
	float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
	p = x2 * p + -2.10102402082508e-06f;
	p = x2 * p + -5.69250639462346e-05f;
	p = x2 * p + -7.34990630326855e-04f;
	p = x2 * p + -2.95459980854025e-03f;
	p = x2 * p + -1.60960333262415e-02f;
	p *= x;
	float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
	q = x2 * q + -1.68282697438203e-03f;
	q = x2 * q + -7.37332916720468e-03f;
	q = x2 * q + -1.42647390514189e-02f;
	return p / q;
}

// The loops below run eight values at a time through GCC's vector extensions: plain
// loops do not vectorise, since the compiler turns the clamps into branches.
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
#define B(c) ((v8f){c, c, c, c, c, c, c, c})

// vsel is m ? a : b lane by lane (m all ones or all zeros); NaN compares false, so a
// NaN in b survives the clamps below.
static inline v8f vsel(v8i m, v8f a, v8f b) { return (v8f)(((v8i)a & m) | ((v8i)b & ~m)); }

static inline v8f vload(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
static inline void vstore(float *p, v8f v) { memcpy(p, &v, sizeof v); }

static inline v8f v_exp(v8f x) {
	x = vsel(x < B(-87.33654f), B(-87.33654f), x);
	v8f t = x * B(1.44269504088896341f) + B(12582912.0f);
	v8f n = t - B(12582912.0f);
	v8f r = x - n * B(0.693359375f) - n * B(-2.12194440e-4f);
	v8f p = B(1.0f / 720);
	p = p * r + B(1.0f / 120);
	p = p * r + B(1.0f / 24);
	p = p * r + B(1.0f / 6);
	p = p * r + B(0.5f);
	p = p * r + B(1.0f);
	p = p * r + B(1.0f);
	v8i scale = ((((v8i)t & 0x7fffff) - 0x400000) + 127) << 23;
	return p * (v8f)scale;
}

static inline v8f v_erf(v8f x) {
	x = vsel(x < B(-4.0f), B(-4.0f), x);
	x = vsel(x > B(4.0f), B(4.0f), x);
	v8f x2 = x * x;
	v8f p = x2 * B(-2.72614225801306e-10f) + B(2.77068142495902e-08f);
	p = x2 * p + B(-2.10102402082508e-06f);
	p = x2 * p + B(-5.69250639462346e-05f);
	p = x2 * p + B(-7.34990630326855e-04f);
	p = x2 * p + B(-2.95459980854025e-03f);
	p = x2 * p + B(-1.60960333262415e-02f);
	p *= x;
	v8f q = x2 * B(-1.45660718464996e-05f) + B(-2.13374055278905e-04f);
	q = x2 * q + B(-1.68282697438203e-03f);
	q = x2 * q + B(-7.37332916720468e-03f);
	q = x2 * q + B(-1.42647390514189e-02f);
	return p / q;
}

static inline float gelu1(float v) { return 0.5f * v * (1.0f + vm_erf(v * 0.70710678118654752440f)); }

static inline float gelu_grad1(float v) {
	float cdf = 0.5f * (1.0f + vm_erf(v * 0.70710678118654752440f));
	float pdf = 0.39894228040143267794f * vm_exp(-0.5f * v * v);
	return cdf + v * pdf;
}

VM_CLONES void vm_gelu(float *y, const float *x, long n) {
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		v8f v = vload(x + i);
		vstore(y + i, B(0.5f) * v * (B(1.0f) + v_erf(v * B(0.70710678118654752440f))));
	}
	for (; i < n; i++) {
		y[i] = gelu1(x[i]);
	}
}

VM_CLONES void vm_gelu_grad_add(float *dx, const float *x, const float *dy, long n) {
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		v8f v = vload(x + i);
		v8f cdf = B(0.5f) * (B(1.0f) + v_erf(v * B(0.70710678118654752440f)));
		v8f pdf = B(0.39894228040143267794f) * v_exp(B(-0.5f) * v * v);
		vstore(dx + i, vload(dx + i) + vload(dy + i) * (cdf + v * pdf));
	}
	for (; i < n; i++) {
		dx[i] += dy[i] * gelu_grad1(x[i]);
	}
}

VM_CLONES void vm_softmax_rows(float *dst, const float *src, long total, long n) {
	for (long r = 0; r < total; r += n) {
		const float *row = src + r;
		float *out = dst + r;
		float m = row[0];
		for (long i = 1; i < n; i++) {
			m = row[i] > m ? row[i] : m;
		}
		long i = 0;
		for (; i + 8 <= n; i += 8) {
			vstore(out + i, v_exp(vload(row + i) - B(m)));
		}
		for (; i < n; i++) {
			out[i] = vm_exp(row[i] - m);
		}
		double s = 0;
		for (i = 0; i < n; i++) {
			s += out[i];
		}
		float inv = (float)(1 / s);
		for (i = 0; i < n; i++) {
			out[i] *= inv;
		}
	}
}

// The small-head attention kernels work on one head at a time in a layout where every
// inner loop runs over the t tokens eight at a time: k and v transposed to [d, tp] and
// the probabilities as [t, tp] rows, tp being t rounded up to eight, the padding zero.

static inline float hsum(v8f v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }

// attn_head_probs fills kt and vt [d, tp] from the head's k and v (rows c3 apart) and p
// [t, tp] with the softmax rows of scale·q·kᵀ.
static inline void attn_head_probs(float *p, float *kt, float *vt, const float *q, const float *k, const float *v,
	long t, long tp, long d, long c3, float scale) {
	for (long x = 0; x < d; x++) {
		for (long j = 0; j < tp; j++) {
			kt[x * tp + j] = j < t ? k[j * c3 + x] : 0;
			vt[x * tp + j] = j < t ? v[j * c3 + x] : 0;
		}
	}
	for (long i = 0; i < t; i++) {
		float *pi = p + i * tp;
		for (long j = 0; j < tp; j += 8) {
			v8f s = B(0.0f);
			for (long x = 0; x < d; x++) {
				s += B(q[i * c3 + x]) * vload(kt + x * tp + j);
			}
			vstore(pi + j, s * B(scale));
		}
		float m = pi[0];
		for (long j = 1; j < t; j++) {
			m = pi[j] > m ? pi[j] : m;
		}
		for (long j = 0; j < tp; j += 8) {
			vstore(pi + j, v_exp(vload(pi + j) - B(m)));
		}
		double sum = 0;
		for (long j = 0; j < t; j++) {
			sum += pi[j];
		}
		float inv = (float)(1 / sum);
		for (long j = 0; j < tp; j++) {
			pi[j] = j < t ? pi[j] * inv : 0;
		}
	}
}

static inline long round8(long t) { return (t + 7) & ~7L; }

// vm_attn_small is multi-head attention over groups of t tokens with heads of d channels,
// from packed qkv [groups, t, 3·heads·d] into out [groups, t, heads·d]; scratch holds
// vm_attn_small_scratch(t, d) values.
VM_CLONES void vm_attn_small(float *out, const float *qkv, long groups, long t, long heads, long d, float scale, float *scratch) {
	long c = heads * d, c3 = 3 * c, tp = round8(t);
	float *p = scratch, *kt = p + t * tp, *vt = kt + d * tp;
	for (long g = 0; g < groups; g++) {
		for (long h = 0; h < heads; h++) {
			const float *q = qkv + g * t * c3 + h * d;
			attn_head_probs(p, kt, vt, q, q + c, q + 2 * c, t, tp, d, c3, scale);
			float *o = out + g * t * c + h * d;
			for (long i = 0; i < t; i++) {
				for (long x = 0; x < d; x++) {
					v8f s = B(0.0f);
					for (long j = 0; j < tp; j += 8) {
						s += vload(p + i * tp + j) * vload(vt + x * tp + j);
					}
					o[i * c + x] = hsum(s);
				}
			}
		}
	}
}

// vm_attn_small_grad adds vm_attn_small's gradient with respect to qkv, given the
// output's gradient dout, to dqkv; scratch holds vm_attn_small_scratch(t, d) values.
VM_CLONES void vm_attn_small_grad(float *dqkv, const float *dout, const float *qkv, long groups, long t, long heads, long d,
	float scale, float *scratch) {
	long c = heads * d, c3 = 3 * c, tp = round8(t);
	float *p = scratch, *kt = p + t * tp, *vt = kt + d * tp, *ds = vt + d * tp, *dkt = ds + t * tp, *dvt = dkt + d * tp;
	for (long g = 0; g < groups; g++) {
		for (long h = 0; h < heads; h++) {
			long off = g * t * c3 + h * d;
			const float *q = qkv + off;
			float *dq = dqkv + off, *dk = dq + c, *dv = dq + 2 * c;
			const float *dO = dout + g * t * c + h * d;
			attn_head_probs(p, kt, vt, q, q + c, q + 2 * c, t, tp, d, c3, scale);
			memset(dkt, 0, sizeof(float) * d * tp);
			memset(dvt, 0, sizeof(float) * d * tp);
			for (long i = 0; i < t; i++) {
				const float *pi = p + i * tp;
				float *dsi = ds + i * tp;
				// dV += Pᵀ·dO and dP = dO·Vᵀ, then the softmax backward dS = P∘(dP − rowsum(dP∘P)).
				v8f dot = B(0.0f);
				for (long j = 0; j < tp; j += 8) {
					v8f pj = vload(pi + j), s = B(0.0f);
					for (long x = 0; x < d; x++) {
						v8f o = B(dO[i * c + x]);
						vstore(dvt + x * tp + j, vload(dvt + x * tp + j) + o * pj);
						s += o * vload(vt + x * tp + j);
					}
					vstore(dsi + j, s);
					dot += pj * s;
				}
				float dt = hsum(dot);
				for (long j = 0; j < tp; j += 8) {
					vstore(dsi + j, B(scale) * vload(pi + j) * (vload(dsi + j) - B(dt)));
				}
				// dQ = dS·K and dK = dSᵀ·Q, the scale already in dS.
				for (long x = 0; x < d; x++) {
					v8f s = B(0.0f), qx = B(q[i * c3 + x]);
					for (long j = 0; j < tp; j += 8) {
						v8f sj = vload(dsi + j);
						s += sj * vload(kt + x * tp + j);
						vstore(dkt + x * tp + j, vload(dkt + x * tp + j) + qx * sj);
					}
					dq[i * c3 + x] += hsum(s);
				}
			}
			for (long j = 0; j < t; j++) {
				for (long x = 0; x < d; x++) {
					dk[j * c3 + x] += dkt[x * tp + j];
					dv[j * c3 + x] += dvt[x * tp + j];
				}
			}
		}
	}
}

// vm_col_sum_add adds the column sums of the rows×cols matrix g to dst, a tile of
// columns at a time, summing 64 rows into a partial before adding it to the tile's total:
// the inner loops are plain adds over contiguous columns, which GCC vectorises.
VM_CLONES void vm_col_sum_add(float *dst, const float *g, long rows, long cols) {
	enum { tile = 256, block = 64 };
	float acc[tile], part[tile];
	for (long j0 = 0; j0 < cols; j0 += tile) {
		long w = cols - j0 < tile ? cols - j0 : tile;
		memset(acc, 0, sizeof acc);
		for (long r0 = 0; r0 < rows; r0 += block) {
			long r1 = r0 + block < rows ? r0 + block : rows;
			memset(part, 0, sizeof part);
			for (long r = r0; r < r1; r++) {
				const float *row = g + r * cols + j0;
				for (long j = 0; j < w; j++) {
					part[j] += row[j];
				}
			}
			for (long j = 0; j < w; j++) {
				acc[j] += part[j];
			}
		}
		for (long j = 0; j < w; j++) {
			dst[j0 + j] += acc[j];
		}
	}
}

typedef int32_t v8s __attribute__((vector_size(32)));
static inline v8s vloadi(const int32_t *p) { v8s v; memcpy(&v, p, sizeof v); return v; }
static inline void vstorei(int32_t *p, v8s v) { memcpy(p, &v, sizeof v); }
static inline v8s vseli(v8i m, v8s a, v8s b) { return (a & m) | (b & ~m); }
#define BI(c) ((v8s){c, c, c, c, c, c, c, c})

// better is where v replaces best in a running maximum: v > best, or v is NaN and best
// is not (a NaN is reported rather than hidden).
static inline v8i better(v8f v, v8f best) { return (v > best) | ((v != v) & (best == best)); }

VM_CLONES void vm_affine_cols(float *dst, const float *src, long rows, long c, const float *mean,
	const float *rstd, const float *w, const float *b, int relu) {
	for (long r = 0; r < rows; r++) {
		const float *x = src + r * c;
		float *y = dst + r * c;
		long j = 0;
		for (; j + 8 <= c; j += 8) {
			v8f v = (vload(x + j) - vload(mean + j)) * vload(rstd + j) * vload(w + j) + vload(b + j);
			if (relu) {
				v = vsel(v < B(0.0f), B(0.0f), v);
			}
			vstore(y + j, v);
		}
		for (; j < c; j++) {
			float v = (x[j] - mean[j]) * rstd[j] * w[j] + b[j];
			y[j] = relu && v < 0 ? 0 : v;
		}
	}
}

VM_CLONES void vm_max_axis(float *out, int32_t *arg, const float *x, long outer, long n, long inner) {
	for (long o = 0; o < outer; o++) {
		float *best = out + o * inner;
		int32_t *bi = arg + o * inner;
		const float *base = x + o * n * inner;
		long i = 0;
		for (; i + 8 <= inner; i += 8) {
			v8f bv = vload(base + i);
			v8s ba = BI(0);
			for (long j = 1; j < n; j++) {
				v8f v = vload(base + j * inner + i);
				v8i m = better(v, bv);
				bv = vsel(m, v, bv);
				ba = vseli(m, BI((int32_t)j), ba);
			}
			vstore(best + i, bv);
			vstorei(bi + i, ba);
		}
		for (; i < inner; i++) {
			float bv = base[i];
			int32_t ba = 0;
			for (long j = 1; j < n; j++) {
				float v = base[j * inner + i];
				if (v > bv || (v != v && bv == bv)) {
					bv = v;
					ba = (int32_t)j;
				}
			}
			best[i] = bv;
			bi[i] = ba;
		}
	}
}

VM_CLONES void vm_gather_add_max(float *out, int32_t *arg, const float *table, const int32_t *idx,
	const float *local, const float *scale, long groups, long k, long c) {
	for (long g = 0; g < groups; g++) {
		float *best = out + g * c;
		int32_t *bi = arg + g * c;
		float s = scale[g];
		long i = 0;
		for (; i + 8 <= c; i += 8) {
			v8f bv = vload(table + (long)idx[g * k] * c + i) + B(s) * vload(local + g * k * c + i);
			v8s ba = BI(0);
			for (long j = 1; j < k; j++) {
				v8f v = vload(table + (long)idx[g * k + j] * c + i) + B(s) * vload(local + (g * k + j) * c + i);
				v8i m = better(v, bv);
				bv = vsel(m, v, bv);
				ba = vseli(m, BI((int32_t)j), ba);
			}
			vstore(best + i, bv);
			vstorei(bi + i, ba);
		}
		for (; i < c; i++) {
			float bv = table[(long)idx[g * k] * c + i] + s * local[g * k * c + i];
			int32_t ba = 0;
			for (long j = 1; j < k; j++) {
				float v = table[(long)idx[g * k + j] * c + i] + s * local[(g * k + j) * c + i];
				if (v > bv || (v != v && bv == bv)) {
					bv = v;
					ba = (int32_t)j;
				}
			}
			best[i] = bv;
			bi[i] = ba;
		}
	}
}

VM_CLONES void vm_relu(float *y, const float *x, long n) {
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		v8f v = vload(x + i);
		vstore(y + i, vsel(v < B(0.0f), B(0.0f), v));
	}
	for (; i < n; i++) {
		y[i] = x[i] < 0 ? 0 : x[i];
	}
}

VM_CLONES void vm_relu_grad_add(float *dx, const float *x, const float *dy, long n) {
	long i = 0;
	for (; i + 8 <= n; i += 8) {
		v8f v = vload(x + i);
		vstore(dx + i, vload(dx + i) + vsel(v > B(0.0f), vload(dy + i), B(0.0f)));
	}
	for (; i < n; i++) {
		if (x[i] > 0) {
			dx[i] += dy[i];
		}
	}
}

typedef double v4d __attribute__((vector_size(32)));

// vm_layer_norm normalises each row of n values: mean and variance in double (four
// lanes, then summed), y = (x − mean)·rstd·w + b in float.
VM_CLONES void vm_layer_norm(float *dst, const float *src, long rows, long n, const float *w, const float *b,
	float eps, float *mean_out, float *rstd_out) {
	for (long r = 0; r < rows; r++) {
		const float *x = src + r * n;
		float *y = dst + r * n;
		v4d acc = {0, 0, 0, 0};
		long i = 0;
		for (; i + 4 <= n; i += 4) {
			acc += (v4d){x[i], x[i + 1], x[i + 2], x[i + 3]};
		}
		double s = acc[0] + acc[1] + acc[2] + acc[3];
		for (; i < n; i++) {
			s += x[i];
		}
		double mu = s / n;
		v4d acc2 = {0, 0, 0, 0};
		v4d m4 = {mu, mu, mu, mu};
		for (i = 0; i + 4 <= n; i += 4) {
			v4d d = (v4d){x[i], x[i + 1], x[i + 2], x[i + 3]} - m4;
			acc2 += d * d;
		}
		double ss = acc2[0] + acc2[1] + acc2[2] + acc2[3];
		for (; i < n; i++) {
			double d = x[i] - mu;
			ss += d * d;
		}
		float rs = (float)(1 / __builtin_sqrt(ss / n + eps));
		float m = (float)mu;
		mean_out[r] = m;
		rstd_out[r] = rs;
		for (i = 0; i + 8 <= n; i += 8) {
			vstore(y + i, (vload(x + i) - B(m)) * B(rs) * vload(w + i) + vload(b + i));
		}
		for (; i < n; i++) {
			y[i] = (x[i] - m) * rs * w[i] + b[i];
		}
	}
}
*/
import "C"

import "unsafe"

func ptr(s []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(s))) }

func gelu(y, x []float32) {
	if len(x) > 0 {
		C.vm_gelu(ptr(y), ptr(x), C.long(len(x)))
	}
}

func geluGradAdd(dx, x, dy []float32) {
	if len(x) > 0 {
		C.vm_gelu_grad_add(ptr(dx), ptr(x), ptr(dy), C.long(len(x)))
	}
}

func softmaxRows(dst, src []float32, n int) {
	if len(src) > 0 {
		C.vm_softmax_rows(ptr(dst), ptr(src), C.long(len(src)), C.long(n))
	}
}

func attnSmall(out, qkv []float32, groups, t, heads, d int, scale float32, p []float32) {
	C.vm_attn_small(ptr(out), ptr(qkv), C.long(groups), C.long(t), C.long(heads), C.long(d), C.float(scale), ptr(p))
}

func attnSmallGrad(dqkv, dout, qkv []float32, groups, t, heads, d int, scale float32, p []float32) {
	C.vm_attn_small_grad(ptr(dqkv), ptr(dout), ptr(qkv), C.long(groups), C.long(t), C.long(heads), C.long(d), C.float(scale), ptr(p))
}

func colSumAdd(dst, g []float32, cols int) {
	C.vm_col_sum_add(ptr(dst), ptr(g), C.long(len(g)/cols), C.long(cols))
}

func iptr(s []int32) *C.int32_t { return (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(s))) }

func affineCols(dst, src []float32, c int, mean, rstd, w, b []float32, relu bool) {
	r := 0
	if relu {
		r = 1
	}
	C.vm_affine_cols(ptr(dst), ptr(src), C.long(len(src)/c), C.long(c), ptr(mean), ptr(rstd), ptr(w), ptr(b), C.int(r))
}

func maxAxis(out []float32, arg []int32, x []float32, n, inner int) {
	C.vm_max_axis(ptr(out), iptr(arg), ptr(x), C.long(len(x)/(n*inner)), C.long(n), C.long(inner))
}

func gatherAddMax(out []float32, arg []int32, table []float32, idx []int32, local, scale []float32, k, c int) {
	C.vm_gather_add_max(ptr(out), iptr(arg), ptr(table), iptr(idx), ptr(local), ptr(scale), C.long(len(scale)), C.long(k), C.long(c))
}

func relu(y, x []float32) {
	if len(x) > 0 {
		C.vm_relu(ptr(y), ptr(x), C.long(len(x)))
	}
}

func reluGradAdd(dx, x, dy []float32) {
	if len(x) > 0 {
		C.vm_relu_grad_add(ptr(dx), ptr(x), ptr(dy), C.long(len(x)))
	}
}

func layerNorm(dst, src []float32, n int, w, b []float32, eps float32, mean, rstd []float32) {
	C.vm_layer_norm(ptr(dst), ptr(src), C.long(len(src)/n), C.long(n), ptr(w), ptr(b), C.float(eps), ptr(mean), ptr(rstd))
}
