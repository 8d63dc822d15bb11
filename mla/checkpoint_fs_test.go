package mla

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

// TestOpenCheckpointFS: a checkpoint read through os.DirFS or fstest.MapFS loads the
// same weights as OpenCheckpoint, and bad sources are refused.
func TestOpenCheckpointFS(t *testing.T) {
	c := tinyConfig()
	w, err := RandomModelWeights(c, 5)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, WriteCheckpoint(dir, c, w, BF16, 2))
	ck, err := OpenCheckpoint(dir)
	require.NoError(t, err)
	want, err := ck.LoadModel()
	require.NoError(t, err)
	require.NoError(t, ck.Close())

	mapFS := fstest.MapFS{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		mapFS["model/"+e.Name()] = &fstest.MapFile{Data: data}
	}
	for name, src := range map[string]struct {
		fsys fs.FS
		dir  string
	}{"dirfs": {os.DirFS(dir), "."}, "mapfs": {mapFS, "model"}} {
		ck, err := OpenCheckpointFS(src.fsys, src.dir)
		require.NoError(t, err, name)
		got, err := ck.LoadModel()
		require.NoError(t, err, name)
		require.Equal(t, unmapped(want), got, name)
		require.Nil(t, got.LMHead.keep, "nothing is mapped through an fs.FS")
		require.NoError(t, ck.Close())
	}
	_, err = OpenCheckpointFS(nil, ".")
	require.ErrorIs(t, err, ErrCheckpoint)
	_, err = OpenCheckpointFS(mapFS, "nowhere")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorContains(t, err, "config.json")
	delete(mapFS, "model/model-00002-of-00002.safetensors")
	mapFS["model/model-00002-of-00002.safetensors/x"] = &fstest.MapFile{Data: []byte("a directory now")}
	_, err = OpenCheckpointFS(mapFS, "model")
	require.ErrorContains(t, err, "a directory")
}

// TestMappedWeightsOutliveCheckpoint: weights used in place keep their file mapped
// after the Checkpoint is closed and collected, and decode as copies do.
func TestMappedWeightsOutliveCheckpoint(t *testing.T) {
	c := tinyConfig()
	w, err := RandomModelWeights(c, 6)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, WriteCheckpoint(dir, c, w, BF16, 1))
	load := func(f WeightFormat) *ModelWeights {
		ck, err := OpenCheckpoint(dir, WithWeightFormat(f))
		require.NoError(t, err)
		defer ck.Close()
		mw, err := ck.LoadModel()
		require.NoError(t, err)
		return mw
	}
	mapped, copied := load(FormatKeep), load(FormatBF16)
	if mapped.LMHead.keep == nil {
		t.Skip("this system does not map files")
	}
	runtime.GC()
	runtime.GC()
	logits := func(mw *ModelWeights) []float32 {
		m, err := NewModel(c, mw, WithWorkers(1))
		require.NoError(t, err)
		defer m.Close()
		mc, err := m.NewCache(CacheOptions{})
		require.NoError(t, err)
		out := make([]float32, c.Vocab)
		require.NoError(t, m.Forward([]int{3, 1, 4, 1, 5}, mc, out))
		return out
	}
	require.Equal(t, logits(copied), logits(mapped), "the same values, the same kernels")
}
