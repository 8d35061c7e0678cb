using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MixLora.Models.Kernels;

/// <summary>AVX2 building blocks of the decode kernels: dot products, eight dot products at once, exp and softmax.</summary>
internal static class VectorOps
{
    /// <summary>a · b over n floats (n a multiple of 8): four independent FMA chains hide the FMA latency.</summary>
    public static unsafe float Dot(float* a, float* b, int n)
    {
        Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
        int i = 0;
        for (; i + 32 <= n; i += 32)
        {
            s0 = Fma.MultiplyAdd(Avx.LoadVector256(a + i), Avx.LoadVector256(b + i), s0);
            s1 = Fma.MultiplyAdd(Avx.LoadVector256(a + i + 8), Avx.LoadVector256(b + i + 8), s1);
            s2 = Fma.MultiplyAdd(Avx.LoadVector256(a + i + 16), Avx.LoadVector256(b + i + 16), s2);
            s3 = Fma.MultiplyAdd(Avx.LoadVector256(a + i + 24), Avx.LoadVector256(b + i + 24), s3);
        }
        for (; i < n; i += 8) s0 = Fma.MultiplyAdd(Avx.LoadVector256(a + i), Avx.LoadVector256(b + i), s0);
        return Vector256.Sum(Avx.Add(Avx.Add(s0, s1), Avx.Add(s2, s3)));
    }

    /// <summary><see cref="Dot"/> where n is a multiple of 8, a plain loop otherwise (small LoRA ranks).</summary>
    public static unsafe float DotAnyLength(float* a, float* b, int n)
    {
        if (n % 8 == 0) return Dot(a, b, n);
        float sum = 0;
        for (int k = 0; k < n; k++) sum += a[k] * b[k];
        return sum;
    }

    /// <summary>
    /// output[j] = matrix[j] · v for <paramref name="rows"/> rows of length n (row stride n): eight rows at a time
    /// whose eight sums come out of one horizontal-add tree, instead of one reduction per row.
    /// </summary>
    public static unsafe void RowDots(float* matrix, float* v, int rows, int n, float* output)
    {
        int j = 0;
        if (n % 8 == 0)
            for (; j + 8 <= rows; j += 8)
            {
                float* m = matrix + (long)j * n;
                Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                for (int c = 0; c < n; c += 8)
                {
                    var x = Avx.LoadVector256(v + c);
                    a0 = Fma.MultiplyAdd(Avx.LoadVector256(m + c), x, a0);
                    a1 = Fma.MultiplyAdd(Avx.LoadVector256(m + n + c), x, a1);
                    a2 = Fma.MultiplyAdd(Avx.LoadVector256(m + 2 * n + c), x, a2);
                    a3 = Fma.MultiplyAdd(Avx.LoadVector256(m + 3 * n + c), x, a3);
                    a4 = Fma.MultiplyAdd(Avx.LoadVector256(m + 4 * n + c), x, a4);
                    a5 = Fma.MultiplyAdd(Avx.LoadVector256(m + 5 * n + c), x, a5);
                    a6 = Fma.MultiplyAdd(Avx.LoadVector256(m + 6 * n + c), x, a6);
                    a7 = Fma.MultiplyAdd(Avx.LoadVector256(m + 7 * n + c), x, a7);
                }
                // hadd pairs, then pairs of pairs: each 128-bit half holds four rows' partial sums; adding the halves
                // (swapped into place) gives [sum₀ … sum₇].
                var s0123 = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
                var s4567 = Avx.HorizontalAdd(Avx.HorizontalAdd(a4, a5), Avx.HorizontalAdd(a6, a7));
                Avx.Store(output + j, Avx.Add(Avx.Permute2x128(s0123, s4567, 0x20), Avx.Permute2x128(s0123, s4567, 0x31)));
            }
        for (; j < rows; j++) output[j] = DotAnyLength(matrix + (long)j * n, v, n);
    }

    /// <summary>
    /// p[j] = exp(p[j] − max p) / Σ exp(p[·] − max p) over n values in place; −∞ entries (masked keys) become 0.
    /// </summary>
    public static unsafe void SoftmaxInPlace(float* p, int n)
    {
        var maxVector = Vector256.Create(float.NegativeInfinity);
        int j = 0;
        for (; j + 8 <= n; j += 8) maxVector = Avx.Max(maxVector, Avx.LoadVector256(p + j));
        float max = float.NegativeInfinity;
        for (int k = 0; k < 8; k++) max = Math.Max(max, maxVector.GetElement(k));
        for (; j < n; j++) max = Math.Max(max, p[j]);

        var shift = Vector256.Create(max);
        var sumVector = Vector256<float>.Zero;
        j = 0;
        for (; j + 8 <= n; j += 8)
        {
            var e = Exp(Avx.Subtract(Avx.LoadVector256(p + j), shift));
            Avx.Store(p + j, e);
            sumVector = Avx.Add(sumVector, e);
        }
        float sum = Vector256.Sum(sumVector);
        for (; j < n; j++) sum += p[j] = MathF.Exp(p[j] - max);

        var inverse = Vector256.Create(1 / sum);
        j = 0;
        for (; j + 8 <= n; j += 8) Avx.Store(p + j, Avx.Multiply(Avx.LoadVector256(p + j), inverse));
        for (; j < n; j++) p[j] /= sum;
    }

    /// <summary>
    /// e^x per lane, within about 2 ulp for x ≥ −87 and exactly 0 below (−∞ included): x = n·ln2 + r with |r| ≤ ln2/2,
    /// e^r by the minimax polynomial of Cephes' expf, 2ⁿ built in the exponent bits.
    /// </summary>
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var underflow = Avx.CompareLessThan(x, Vector256.Create(-87.0f));
        x = Avx.Min(Avx.Max(x, Vector256.Create(-87.0f)), Vector256.Create(88.3762626647949f));
        var n = Avx.RoundToNearestInteger(Avx.Multiply(x, Vector256.Create(1.44269504088896341f)));     // x / ln 2
        // r = x − n·ln2, with ln2 split in two so n·ln2's rounding error does not reach r.
        var r = Fma.MultiplyAddNegated(n, Vector256.Create(0.693359375f), x);
        r = Fma.MultiplyAddNegated(n, Vector256.Create(-2.12194440e-4f), r);
        var poly = Vector256.Create(1.9875691500e-4f);
        poly = Fma.MultiplyAdd(poly, r, Vector256.Create(1.3981999507e-3f));
        poly = Fma.MultiplyAdd(poly, r, Vector256.Create(8.3334519073e-3f));
        poly = Fma.MultiplyAdd(poly, r, Vector256.Create(4.1665795894e-2f));
        poly = Fma.MultiplyAdd(poly, r, Vector256.Create(1.6666665459e-1f));
        poly = Fma.MultiplyAdd(poly, r, Vector256.Create(5.0000001201e-1f));
        poly = Fma.MultiplyAdd(poly, Avx.Multiply(r, r), Avx.Add(r, Vector256.Create(1f)));        // 1 + r + r²·P(r)
        var twoToN = Avx2.ShiftLeftLogical(Avx2.Add(Avx.ConvertToVector256Int32(n), Vector256.Create(127)), 23).AsSingle();
        return Avx.AndNot(underflow, Avx.Multiply(poly, twoToN));
    }
}
