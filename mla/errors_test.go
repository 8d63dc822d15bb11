package mla

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlasimd/mlasimd/safetensors"
	"github.com/stretchr/testify/require"
)

// TestErrorKinds: each error kind callers branch on is matched by errors.Is (and
// errors.As reaches the causes), while the message still names what is wrong.
func TestErrorKinds(t *testing.T) {
	c := tinyConfig()
	bad := c
	bad.Heads = 0
	err := bad.Validate()
	require.ErrorIs(t, err, ErrConfig)
	require.ErrorContains(t, err, "Heads")
	_, err = ParseHFConfig([]byte(`{"hidden_size": -3}`))
	require.ErrorIs(t, err, ErrConfig)

	dir := t.TempDir()
	_, err = OpenCheckpoint(dir)
	require.ErrorIs(t, err, ErrCheckpoint)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, dir)
	w, err := RandomModelWeights(c, 1)
	require.NoError(t, err)
	require.NoError(t, WriteCheckpoint(dir, c, w, F32, 1))
	ck, err := OpenCheckpoint(dir)
	require.NoError(t, err)
	_, err = ck.Tensor("model.layers.0.no_such.weight", 3)
	require.ErrorIs(t, err, ErrCheckpoint)
	require.ErrorContains(t, err, "no_such")
	require.NoError(t, ck.Close())
	_, err = ck.LoadLayer(0)
	require.ErrorIs(t, err, ErrClosed)
	require.NotErrorIs(t, err, ErrCheckpoint, "closing is not the files' fault")
	shard := filepath.Join(dir, "model.safetensors")
	require.NoError(t, os.WriteFile(shard, []byte("not a safetensors file at all"), 0o644))
	_, err = OpenCheckpoint(dir)
	require.ErrorIs(t, err, ErrCheckpoint)
	require.ErrorIs(t, err, safetensors.ErrFormat)

	l := testLayer(t, c, testWeights(t, c, 1), true)
	k, err := l.NewCache(CacheOptions{})
	require.NoError(t, err)
	out := make([]float32, c.Hidden)
	require.ErrorIs(t, l.Decode(out, out[:3], k), ErrShape)
	nan := make([]float32, c.Hidden)
	nan[2] = float32(math.NaN())
	require.ErrorIs(t, l.Decode(out, nan, k), ErrNonFinite)
	require.ErrorIs(t, k.Truncate(5), ErrShape)
	require.NoError(t, k.SetStart(MaxCachePositions))
	err = l.Decode(out, make([]float32, c.Hidden), k)
	require.ErrorIs(t, err, ErrCacheFull)
	require.ErrorContains(t, err, "MaxCachePositions")
	_, err = NewMatrixQ8_0(2, 31, nil)
	require.ErrorIs(t, err, ErrShape)

	var kind *kindError
	require.True(t, errors.As(err, &kind))
	require.Equal(t, kind.Error(), err.Error())
}
