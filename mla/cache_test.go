package mla

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd/safetensors"
	"github.com/stretchr/testify/require"
)

func TestCacheBytesAndComparisons(t *testing.T) {
	c := DeepSeekV2Lite()
	for _, dt := range []DType{F32, BF16, F16, I8, FP8} {
		k, err := NewCache(c, CacheOptions{DType: dt, Capacity: 8})
		require.NoError(t, err)
		require.NoError(t, k.Append(make([]float32, 10*576)))
		require.Equal(t, 10, k.Len())
		require.Equal(t, int64(10*5120*dt.Size()), k.MHABytes())
		require.Equal(t, int64(10*8*320*dt.Size()), k.GQABytes(8))
		if dt == I8 {
			require.Equal(t, int64(10*(576+8)), k.Bytes(), "int8 values and two float32 scales per row")
			continue
		}
		if dt == FP8 {
			require.Equal(t, int64(10*(576+4)), k.Bytes(), "E4M3 values and a float32 scale per row")
			continue
		}
		require.Equal(t, int64(10*576*dt.Size()), k.Bytes())
		require.InDelta(t, c.CacheSizeRatio(), float64(k.Bytes())/float64(k.MHABytes()), 1e-15)
	}
	_, err := NewCache(c, CacheOptions{DType: safetensors.I32})
	require.ErrorContains(t, err, "use F32, BF16, F16, I8 or FP8 (E4M3)")
	odd := tinyConfig()
	odd.KVLoRARank = 24
	_, err = NewCache(odd, CacheOptions{DType: I8})
	require.ErrorIs(t, err, ErrShape)
	require.ErrorContains(t, err, "multiple of 16 (have 24)")
}

// TestCacheGrowthIsAmortized: appending one row per step reallocates O(log n) times
// (never copying the whole cache each step), and not at all within Capacity.
func TestCacheGrowthIsAmortized(t *testing.T) {
	c := tinyConfig()
	rw := c.CacheRowWidth()
	for _, dt := range []DType{F32, BF16} {
		k, err := NewCache(c, CacheOptions{DType: dt})
		require.NoError(t, err)
		row := make([]float32, rw)
		grows, last := 0, -1
		for i := range 5000 {
			require.NoError(t, k.Append(row))
			if k.Capacity() != last {
				grows++
				last = k.Capacity()
			}
			require.Equal(t, i+1, k.Len())
		}
		require.LessOrEqual(t, grows, 1+int(math.Ceil(math.Log2(5000.0/16))), "doubling growth")

		pre, err := NewCache(c, CacheOptions{DType: dt, Capacity: 100})
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(50, func() {
			if pre.Len() == 100 {
				pre.Reset()
			}
			_ = pre.Append(row)
		})
		require.Zero(t, allocs)
	}
}

func TestCacheTruncateResetStart(t *testing.T) {
	c := tinyConfig()
	rw := c.CacheRowWidth()
	k, err := NewCache(c, CacheOptions{Start: 4000})
	require.NoError(t, err)
	rows := randomInputs(5, rw, 1)
	require.NoError(t, k.Append(rows))
	require.Equal(t, 4005, k.Next())
	require.NoError(t, k.Truncate(2))
	require.Equal(t, 4002, k.Next())
	require.Equal(t, rows[:2*rw], mustRows(t, k, 0, 2, nil))
	require.Error(t, k.Truncate(3))
	require.Error(t, k.Truncate(-1))
	require.ErrorContains(t, k.SetStart(9), "must be empty")
	k.Reset()
	require.Equal(t, 0, k.Len())
	require.Equal(t, 4000, k.Start())
	require.NoError(t, k.SetStart(9))
	require.Equal(t, 9, k.Next())
	require.ErrorContains(t, k.Append(make([]float32, rw+1)), "not a whole number")
}

// TestCacheRounding: 16-bit caches store the row rounded to nearest even and widen it
// back exactly; the error is at most half an ulp of the format (2^-8 bf16, 2^-11 f16
// relative, in the normal range).
func TestCacheRounding(t *testing.T) {
	c := tinyConfig()
	rw := c.CacheRowWidth()
	rows := randomInputs(3, rw, 2)
	for dt, rel := range map[DType]float64{BF16: 0x1p-8, F16: 0x1p-11} {
		k, err := NewCache(c, CacheOptions{DType: dt})
		require.NoError(t, err)
		require.NoError(t, k.Append(rows))
		got := mustRows(t, k, 0, 3, make([]float32, 3*rw))
		for i, v := range rows {
			require.InDelta(t, v, got[i], rel*math.Abs(float64(v))+0x1p-25, "%s element %d", dt, i)
		}
		require.Equal(t, int64(3*rw*2), k.Bytes())
	}
}
