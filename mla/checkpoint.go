package mla

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mlasimd/mlasimd/internal/checked"
	"github.com/mlasimd/mlasimd/internal/fileopen"
	"github.com/mlasimd/mlasimd/internal/strictjson"
	"github.com/mlasimd/mlasimd/safetensors"
)

// Checkpoint reads weights by their Hugging Face names from a model directory
// (config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json) or from one safetensors file. Shards are opened when
// first needed. F32, BF16 and F16 tensors are widened to float32; F8_E4M3 tensors
// (DeepSeek-V3) are dequantized with their weight_scale_inv block scales.
//
// A Checkpoint is not safe for concurrent use. The zero Checkpoint holds nothing:
// its loads return errors.
type Checkpoint struct {
	dir        string // for errors: the directory, as given
	src        checkpointSource
	cfg        Config
	opts       loadOptions
	blockRows  int // FP8 scale block, quantization_config.weight_block_size
	blockCols  int
	where      map[string]string // tensor name -> file name relative to dir
	files      map[string]*safetensors.File
	failed     map[string]error // files that could not be opened, so each is tried once
	layers     map[int]bool     // indices N of the model.layers.N.* names, built on first use
	sourceName string           // for errors: the index or the single file
	closed     bool
}

// OpenCheckpoint opens the Hugging Face model directory dir: its config.json gives
// the Config, and the weights come from model.safetensors.index.json's shards or
// from model.safetensors. Every file must be a regular file (symbolic links are
// followed) and every shard name a plain file name in dir. A shard that exists but is
// not a regular file is refused here; a missing one only when a load needs it, since
// loading one layer of a many-shard model from a partial download is normal. The
// config is refused when one layer's float32 weights would exceed the memory limit
// (see WithMemoryLimit).
//
// Its safetensors files are memory-mapped read-only (on Unix): tensors kept in their
// stored format (BF16 and F16 at an even offset, F8_E4M3) are used in place, so the
// weights cost the file's page cache rather than a copy; the mappings are released
// once neither the Checkpoint nor any weights loaded from it are reachable. The
// files must not be modified while mapped.
func OpenCheckpoint(dir string, opts ...LoadOption) (_ *Checkpoint, err error) {
	defer func() { err = checkpointErr(err) }()
	return openCheckpoint(osSource{dir}, dir, opts)
}

// OpenCheckpointFS is OpenCheckpoint for the directory dir of fsys (an embed.FS,
// os.DirFS, testing/fstest.MapFS, ...). Its files are read through fsys, in place
// where the files implement io.ReaderAt; nothing is memory-mapped.
func OpenCheckpointFS(fsys fs.FS, dir string, opts ...LoadOption) (_ *Checkpoint, err error) {
	defer func() { err = checkpointErr(err) }()
	if fsys == nil {
		return nil, errors.New("mla: OpenCheckpointFS: nil fs.FS")
	}
	return openCheckpoint(fsSource{fsys, dir}, dir, opts)
}

func openCheckpoint(src checkpointSource, dir string, opts []LoadOption) (*Checkpoint, error) {
	o, err := newLoadOptions(opts)
	if err != nil {
		return nil, err
	}
	cfgPath := src.path("config.json")
	if _, err := src.stat("config.json"); err != nil {
		return nil, fmt.Errorf("mla: checkpoint %s: %w (a model directory needs config.json)", dir, err)
	}
	raw, err := src.readSmall("config.json", maxConfigBytes, "config.json")
	if err != nil {
		return nil, err
	}
	cfg, h, err := parseHFConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	if err := o.checkLayer(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	ck := newCheckpoint(src, dir, cfg, o)
	if b := h.BlockSize; b != nil {
		ck.blockRows, ck.blockCols = b[0], b[1]
	}
	const index = "model.safetensors.index.json"
	if _, err := src.stat(index); err == nil {
		if err := ck.readIndex(index); err != nil {
			return nil, err
		}
		return ck, nil
	}
	if _, err := src.stat("model.safetensors"); err != nil {
		return nil, fmt.Errorf("mla: checkpoint %s has neither model.safetensors.index.json nor model.safetensors", dir)
	}
	if err := ck.addFile("model.safetensors"); err != nil {
		return nil, err
	}
	return ck, nil
}

// OpenCheckpointFile reads weights from the single safetensors file at path,
// described by cfg (a file alone carries no config).
func OpenCheckpointFile(path string, cfg Config, opts ...LoadOption) (_ *Checkpoint, err error) {
	defer func() { err = checkpointErr(err) }()
	o, err := newLoadOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := o.checkLayer(cfg); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	ck := newCheckpoint(osSource{dir}, dir, cfg, o)
	if err := ck.addFile(filepath.Base(path)); err != nil {
		return nil, err
	}
	return ck, nil
}

func newCheckpoint(src checkpointSource, dir string, cfg Config, o loadOptions) *Checkpoint {
	return &Checkpoint{dir: dir, src: src, cfg: cfg, opts: o, blockRows: 128, blockCols: 128,
		where: map[string]string{}, files: map[string]*safetensors.File{}, failed: map[string]error{}}
}

// ParseShardIndex reads a model.safetensors.index.json: its weight_map from tensor
// names to shard files. Keys match exactly and may not repeat; every shard must be a
// plain ".safetensors" file name (no directory, no "..", no NUL), so that no index
// can make a checkpoint read outside its directory.
func ParseShardIndex(data []byte) (_ map[string]string, err error) {
	defer func() { err = checkpointErr(err) }()
	p, err := strictjson.New(data)
	if err != nil {
		return nil, err
	}
	var m map[string]string
	err = p.Object(func(key string) error {
		if key != "weight_map" {
			return p.UnknownKey(key, "weight_map")
		}
		if p.Peek() != '{' {
			return fmt.Errorf("weight_map is %s, want an object of tensor names to shard files", p.Kind())
		}
		m = map[string]string{}
		// members: m itself catches duplicate names.
		return strictjson.KeyErr(key, p.Members(func(name string) error {
			if _, dup := m[name]; dup {
				return fmt.Errorf("tensor %q is listed twice", name)
			}
			if len(m) >= maxIndexTensors {
				return fmt.Errorf("more than %d tensors, this reader's limit (DeepSeek-V3 lists about 91 thousand)", maxIndexTensors)
			}
			if name == "" {
				return errors.New("a tensor has an empty name")
			}
			if p.Peek() != '"' {
				return fmt.Errorf("tensor %q maps to %s, want a shard file name", name, p.Kind())
			}
			file, err := p.Str()
			if err != nil {
				return err
			}
			if !validShardName(file) {
				return fmt.Errorf("tensor %q maps to %q, which is not a .safetensors file name inside the model directory", name, file)
			}
			m[name] = file
			return nil
		}))
	})
	if err == nil {
		err = p.End()
	}
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, errors.New("empty or missing weight_map")
	}
	return m, nil
}

// validShardName accepts a plain file name in the model directory: Hugging Face
// indexes name their shards so, and a name with a directory part could reach
// outside through a link.
func validShardName(f string) bool {
	return filepath.IsLocal(f) && filepath.Base(f) == f && !strings.ContainsRune(f, 0) &&
		strings.HasSuffix(f, ".safetensors") && len(f) > len(".safetensors")
}

// readIndex reads the shard index rel and checks that no shard is a FIFO, a device or
// a directory: opening one would block or never end.
func (ck *Checkpoint) readIndex(rel string) error {
	path := ck.src.path(rel)
	raw, err := ck.src.readSmall(rel, maxIndexBytes, "model.safetensors.index.json")
	if err != nil {
		return err
	}
	m, err := ParseShardIndex(raw)
	if err != nil {
		return fmt.Errorf("mla: %s: %w", path, err)
	}
	shards := map[string]bool{}
	for name, file := range m {
		if !shards[file] && len(shards) >= maxShards {
			return fmt.Errorf("mla: %s: more than %d shard files, this reader's limit (DeepSeek-V3 has 163)", path, maxShards)
		}
		shards[file] = true
		ck.where[name] = file
	}
	var errs []error
	for _, file := range slices.Sorted(maps.Keys(shards)) {
		full := ck.src.path(file)
		st, err := ck.src.stat(file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			ck.failed[file] = fmt.Errorf("mla: checkpoint %s: shard %s, listed in %s, is missing: %w", ck.dir, file, filepath.Base(path), fs.ErrNotExist)
		case err != nil:
			ck.failed[file] = fmt.Errorf("mla: %w", err)
		default:
			if err := fileopen.Check(full, st); err != nil {
				errs = append(errs, fmt.Errorf("mla: %w (listed in %s)", err, path))
			}
		}
	}
	ck.sourceName = path
	return errors.Join(errs...)
}

// addFile opens a safetensors file and maps all its tensors to it.
func (ck *Checkpoint) addFile(rel string) error {
	sf, err := ck.open(rel)
	if err != nil {
		return err
	}
	for _, name := range sf.Names() {
		ck.where[name] = rel
	}
	ck.sourceName = sf.Name()
	return nil
}

// open returns the opened file rel, opening it on first use; a file that failed once
// fails again with the same error, without another attempt.
func (ck *Checkpoint) open(rel string) (*safetensors.File, error) {
	if sf, ok := ck.files[rel]; ok {
		return sf, nil
	}
	if err, ok := ck.failed[rel]; ok {
		return nil, err
	}
	if ck.files == nil {
		ck.files, ck.failed = map[string]*safetensors.File{}, map[string]error{}
	}
	if ck.src == nil {
		ck.src = osSource{ck.dir}
	}
	sf, err := ck.src.openTensors(rel)
	if err != nil {
		ck.failed[rel] = err
		return nil, err
	}
	ck.files[rel] = sf
	return sf, nil
}

// Config is the checkpoint's configuration.
func (ck *Checkpoint) Config() Config { return ck.cfg }

// Names lists the tensor names the checkpoint has.
func (ck *Checkpoint) Names() []string { return slices.Sorted(maps.Keys(ck.where)) }

// Has reports whether the checkpoint lists the tensor.
func (ck *Checkpoint) Has(name string) bool { _, ok := ck.where[name]; return ok }

// Files lists the paths of the files the checkpoint's tensors are in, each inside its
// directory.
func (ck *Checkpoint) Files() []string {
	var out []string
	for _, f := range slices.Sorted(maps.Values(ck.where)) {
		if p := ck.src.path(f); len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
	}
	return out
}

// Close closes every opened file. Loading after Close is an error, and so is a
// second Close.
func (ck *Checkpoint) Close() error {
	if ck.closed {
		return fmt.Errorf("mla: checkpoint %s: %w (%w)", ck.sourceName, ErrClosed, os.ErrClosed)
	}
	ck.closed = true
	var errs []error
	for _, sf := range ck.files {
		errs = append(errs, sf.Close())
	}
	return errors.Join(errs...)
}

// usable refuses loads from a closed or zero Checkpoint.
func (ck *Checkpoint) usable() error {
	if ck.closed {
		return fmt.Errorf("mla: checkpoint %s: %w (%w)", ck.sourceName, ErrClosed, os.ErrClosed)
	}
	if ck.where == nil {
		return errors.New("mla: the zero Checkpoint holds no tensors; use OpenCheckpoint or OpenCheckpointFile")
	}
	return nil
}

// shardError is a tensor's file that could not be opened, kept apart so that loads
// report it once with every tensor it was to give.
type shardError struct {
	file   string
	tensor string
	err    error
}

func (e *shardError) Error() string { return fmt.Sprintf("%v (needed for tensor %s)", e.err, e.tensor) }
func (e *shardError) Unwrap() error { return e.err }

// Tensor returns the named tensor as float32, checking that its shape is shape.
func (ck *Checkpoint) Tensor(name string, shape ...int) (_ []float32, err error) {
	defer func() { err = checkpointErr(err) }()
	sf, info, err := ck.locate(name, shape)
	if err != nil {
		return nil, err
	}
	if info.DType != safetensors.F8E4M3 {
		v, _, err := sf.ReadFloat32(name)
		return v, err
	}
	if len(shape) != 2 {
		return nil, fmt.Errorf("mla: %s: FP8 tensor %s has shape %v; block scales need a matrix", sf.Name(), name, shape)
	}
	m, err := ck.fp8Matrix(sf, name, shape[0], shape[1])
	if err != nil {
		return nil, err
	}
	return m.Widen(), nil
}

// blockScales reads the weight_scale_inv of the rows x cols FP8 tensor name (in
// file sf): ceil(rows/blockRows) x ceil(cols/blockCols) float32 factors, which
// multiply despite their name (edge blocks are partial and use their block's
// scale). Scales must be finite and positive.
func (ck *Checkpoint) blockScales(sf *safetensors.File, name string, rows, cols int) ([]float32, error) {
	scaleName := name + "_scale_inv"
	scaleRel, ok := ck.where[scaleName]
	if !ok {
		return nil, fmt.Errorf("mla: %s: tensor %s is F8_E4M3 but its block scales %s are missing", sf.Name(), name, scaleName)
	}
	ssf, err := ck.open(scaleRel)
	if err != nil {
		return nil, &shardError{file: scaleRel, tensor: scaleName, err: err}
	}
	si, ok := ssf.Info(scaleName)
	if !ok {
		return nil, fmt.Errorf("mla: %s: the index places tensor %s in this file, but it is not there", ssf.Name(), scaleName)
	}
	if si.DType == safetensors.F8E4M3 {
		return nil, fmt.Errorf("mla: %s: scale tensor %s must be F32, BF16 or F16, not F8_E4M3", ssf.Name(), scaleName)
	}
	sr, sc := ceilDiv(rows, ck.blockRows), ceilDiv(cols, ck.blockCols)
	if !slices.Equal(si.Shape, []int{sr, sc}) {
		return nil, fmt.Errorf("mla: %s: tensor %s: scale shape %v, want [%d %d] for a [%d %d] weight in %dx%d blocks", ssf.Name(), scaleName, si.Shape, sr, sc, rows, cols, ck.blockRows, ck.blockCols)
	}
	scale, _, err := ssf.ReadFloat32(scaleName)
	if err != nil {
		return nil, err
	}
	for i, s := range scale {
		if !(s > 0) || math.IsInf(float64(s), 1) {
			return nil, fmt.Errorf("mla: %s: tensor %s: scale %d is %v, want a finite positive factor", ssf.Name(), scaleName, i, s)
		}
	}
	return scale, nil
}

// ceilDiv is ⌈a/b⌉ for a >= 0 and b > 0, without overflow.
func ceilDiv(a, b int) int {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

// locate finds the named tensor's file and checks its shape and size.
func (ck *Checkpoint) locate(name string, shape []int) (*safetensors.File, safetensors.TensorInfo, error) {
	var none safetensors.TensorInfo
	if err := ck.usable(); err != nil {
		return nil, none, err
	}
	rel, ok := ck.where[name]
	if !ok {
		return nil, none, fmt.Errorf("mla: checkpoint %s: tensor %s not found (want shape %v)", ck.sourceName, name, shape)
	}
	sf, err := ck.open(rel)
	if err != nil {
		return nil, none, &shardError{file: rel, tensor: name, err: err}
	}
	info, ok := sf.Info(name)
	if !ok {
		return nil, none, fmt.Errorf("mla: %s: the index places tensor %s in this file, but it is not there", sf.Name(), name)
	}
	if !slices.Equal(info.Shape, shape) {
		return nil, none, fmt.Errorf("mla: %s: tensor %s has shape %v (%s), want %v for config %q", sf.Name(), name, info.Shape, info.DType, shape, ck.cfg.Name)
	}
	// The file bounds the tensor's bytes; its float32 form is up to 4x that (FP8).
	if n, ok := checked.Mul(info.Numel(), 4); !ok || int64(n) > ck.opts.memoryLimit {
		return nil, none, fmt.Errorf("mla: %s: tensor %s %v takes more than the memory limit of %s as float32", sf.Name(), name, shape, byteSize(ck.opts.memoryLimit))
	}
	return sf, info, nil
}

// Matrix returns the named rows x cols tensor in the checkpoint's weight format
// (WithWeightFormat): a BF16, F16 or FP8 tensor kept as it is stored is read without
// being widened; any other is read as float32 (FP8 with its block scales) and
// converted.
func (ck *Checkpoint) Matrix(name string, rows, cols int) (_ Matrix, err error) {
	defer func() { err = checkpointErr(err) }()
	sf, info, err := ck.locate(name, []int{rows, cols})
	if err != nil {
		return Matrix{}, err
	}
	f := ck.opts.format
	if info.DType == safetensors.F8E4M3 && (f == FormatKeep || f == FormatFP8) {
		return ck.fp8Matrix(sf, name, rows, cols)
	}
	if hf, ok := halfFormat(info.DType); ok && (f == FormatKeep || f == hf) {
		if bits, keep, ok := viewUint16(sf, name); ok {
			m, err := NewMatrixHalf(hf, rows, cols, bits)
			m.keep = keep
			return m, err
		}
		bits, err := sf.ReadUint16(name)
		if err != nil {
			return Matrix{}, err
		}
		return NewMatrixHalf(hf, rows, cols, bits)
	}
	if f == FormatFP8 {
		return Matrix{}, fmt.Errorf("mla: %s: tensor %s is %s; only F8_E4M3 tensors are held as fp8", sf.Name(), name, info.DType)
	}
	v, err := ck.Tensor(name, rows, cols)
	if err != nil {
		return Matrix{}, err
	}
	m, err := NewMatrix(rows, cols, v).Convert(f)
	if err != nil {
		return Matrix{}, fmt.Errorf("mla: %s: tensor %s: %w", sf.Name(), name, err)
	}
	return m, nil
}

// fp8Matrix reads an F8_E4M3 tensor and its block scales as an FP8 Matrix, refusing
// E4M3's NaN bytes.
func (ck *Checkpoint) fp8Matrix(sf *safetensors.File, name string, rows, cols int) (Matrix, error) {
	raw, keep, ok := viewBytes(sf, name)
	if !ok {
		var err error
		raw, err = sf.ReadRaw(name)
		if err != nil {
			return Matrix{}, err
		}
	}
	if i := slices.IndexFunc(raw, isE4M3NaN); i >= 0 {
		return Matrix{}, fmt.Errorf("mla: %s: FP8 tensor %s: weight %d (row %d) is NaN (byte %#02x)", sf.Name(), name, i, i/max(cols, 1), raw[i])
	}
	scale, err := ck.blockScales(sf, name, rows, cols)
	if err != nil {
		return Matrix{}, err
	}
	m, err := NewMatrixFP8(rows, cols, raw, scale, ck.blockRows, ck.blockCols)
	if err != nil {
		return Matrix{}, fmt.Errorf("mla: %s: tensor %s: %w", sf.Name(), name, err)
	}
	m.keep = keep
	return m, nil
}

// halfFormat is the weight format of a 16-bit checkpoint dtype.
func halfFormat(d DType) (WeightFormat, bool) {
	switch d {
	case BF16:
		return FormatBF16, true
	case F16:
		return FormatF16, true
	}
	return 0, false
}

// loadErrors collects a load's errors, folding those of one unopenable file into
// one error that lists the tensors it was to give.
type loadErrors struct {
	errs    []error
	shards  []string
	shardOf map[string]*shardError
	tensors map[string][]string
}

func (l *loadErrors) add(err error) {
	var se *shardError
	if !errors.As(err, &se) {
		l.errs = append(l.errs, err)
		return
	}
	if l.shardOf == nil {
		l.shardOf, l.tensors = map[string]*shardError{}, map[string][]string{}
	}
	if _, ok := l.shardOf[se.file]; !ok {
		l.shards = append(l.shards, se.file)
		l.shardOf[se.file] = se
	}
	l.tensors[se.file] = append(l.tensors[se.file], se.tensor)
}

// count is the number of errors added.
func (l *loadErrors) count() int {
	n := len(l.errs)
	for _, t := range l.tensors {
		n += len(t)
	}
	return n
}

func (l *loadErrors) err() error {
	var out []error
	for _, f := range l.shards {
		names := l.tensors[f]
		list := strings.Join(names[:min(len(names), 8)], ", ")
		if len(names) > 8 {
			list += fmt.Sprintf(" and %d more", len(names)-8)
		}
		out = append(out, fmt.Errorf("%w (it was to hold %d of the tensors needed: %s)", l.shardOf[f].err, len(names), list))
	}
	return errors.Join(append(out, l.errs...)...)
}

// layerSet returns the indices N of the model.layers.N.* names (N written as
// strconv.Itoa writes it, as the loaders look names up).
func (ck *Checkpoint) layerSet() map[int]bool {
	if ck.layers != nil {
		return ck.layers
	}
	ck.layers = map[int]bool{}
	for name := range ck.where {
		rest, ok := strings.CutPrefix(name, "model.layers.")
		if !ok {
			continue
		}
		digits, _, ok := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(digits); ok && err == nil && n >= 0 && strconv.Itoa(n) == digits {
			ck.layers[n] = true
		}
	}
	return ck.layers
}

// describeLayers says which layers the checkpoint holds, for errors.
func (ck *Checkpoint) describeLayers() string {
	set := ck.layerSet()
	if len(set) == 0 {
		return "no model.layers.* tensors at all"
	}
	idx := slices.Sorted(maps.Keys(set))
	lo, hi := idx[0], idx[len(idx)-1]
	if lo == hi {
		return fmt.Sprintf("tensors of layer %d only", lo)
	}
	if hi-lo+1 == len(idx) {
		return fmt.Sprintf("tensors of layers %d to %d", lo, hi)
	}
	return fmt.Sprintf("tensors of %d layers between %d and %d", len(idx), lo, hi)
}

// LoadLayer reads layer i's attention weights (model.layers.i.self_attn.*). All
// missing or mis-shaped tensors are reported together, and a shard that cannot be
// opened once, with the tensors it was to give.
func (ck *Checkpoint) LoadLayer(i int) (_ *LayerWeights, err error) {
	defer func() { err = checkpointErr(err) }()
	if err := ck.usable(); err != nil {
		return nil, err
	}
	if ck.cfg.Layers > 0 && (i < 0 || i >= ck.cfg.Layers) {
		return nil, fmt.Errorf("mla: checkpoint %s: layer %d outside [0, %d)", ck.sourceName, i, ck.cfg.Layers)
	}
	if !ck.layerSet()[i] {
		return nil, fmt.Errorf("mla: checkpoint %s: no tensor of layer %d (model.layers.%d.*): it holds %s", ck.sourceName, i, i, ck.describeLayers())
	}
	var errs loadErrors
	w := ck.loadLayer(i, Matrix{}, &errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return w, nil
}

// loadLayer reads layer i into new LayerWeights, or adds its errors to errs and
// returns nil. shared, when it has rows, is the model-wide KV down-projection.
func (ck *Checkpoint) loadLayer(i int, shared Matrix, errs *loadErrors) *LayerWeights {
	c := ck.cfg
	w := &LayerWeights{}
	before := errs.count()
	var kPart, vPart Matrix
	for _, s := range layerTensorSpecs(c) {
		name := layerPrefix(i) + s.name
		if s.sharedDown && c.SharedKVDown {
			if shared.rows > 0 {
				*s.mat(w) = shared
				continue
			}
			name = sharedDownName(c)
		}
		if s.mat == nil {
			v, err := ck.Tensor(name, s.shape()...)
			if err != nil {
				errs.add(err)
			} else {
				*s.vec(w) = v
			}
			continue
		}
		m, err := ck.Matrix(name, s.rows, s.cols)
		if err != nil {
			errs.add(err)
			continue
		}
		switch s.part {
		case keyRows:
			kPart = m
		case valueRows:
			vPart = m
		default:
			*s.mat(w) = m
		}
	}
	if errs.count() > before {
		return nil
	}
	if kPart.rows > 0 {
		kvb, err := interleaveKV(c, kPart, vPart)
		if err != nil {
			errs.add(fmt.Errorf("mla: checkpoint %s: layer %d: k_up_proj and v_up_proj: %w", ck.sourceName, i, err))
			return nil
		}
		w.KVBProj = kvb
	}
	return w
}

// LoadModel reads a whole decoder: embeddings, every block (a dense SwiGLU FFN or,
// for Config.IsMoELayer blocks, a mixture of experts),
// the final norm and the LM head. Before reading anything it checks that the model
// fits the memory limit (as float32 for a dense model; a mixture of experts by its
// ResidentBytes) and that the checkpoint holds every one of config.json's
// num_hidden_layers layers.
func (ck *Checkpoint) LoadModel() (_ *ModelWeights, err error) {
	defer func() { err = checkpointErr(err) }()
	if err := ck.usable(); err != nil {
		return nil, err
	}
	c := ck.cfg
	if err := c.validateModel(); err != nil {
		return nil, err
	}
	if c.MoE == nil {
		if err := ck.opts.checkModel(c); err != nil {
			return nil, err
		}
	}
	var missing []int
	for i := range c.Layers {
		if !ck.layerSet()[i] {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("mla: checkpoint %s: the config has %d layers (num_hidden_layers), but the checkpoint holds %s (%d missing, the first is layer %d)",
			ck.sourceName, c.Layers, ck.describeLayers(), len(missing), missing[0])
	}
	if c.MoE != nil {
		// A mixture of experts is loaded in its resident format (DeepSeek-V3 is
		// 2.7 TB as float32, 700 GB as FP8): the limit applies to what it will hold.
		n, err := ck.ResidentBytes()
		if err != nil {
			return nil, err
		}
		if n > ck.opts.memoryLimit {
			return nil, fmt.Errorf("mla: checkpoint %s: the model's weights take %s as loaded (%v), over the memory limit of %s; raise it with mla.WithMemoryLimit if that is intended",
				ck.sourceName, byteSize(n), ck.opts.format, byteSize(ck.opts.memoryLimit))
		}
	}
	w := &ModelWeights{Blocks: make([]BlockWeights, c.Layers)}
	w.prepareMoE(c)
	var shared Matrix
	var errs loadErrors
	for i := range w.Blocks {
		if !c.IsMoELayer(i) && !ck.Has(blockPrefix(i)+"mlp.gate_proj.weight") && ck.Has(blockPrefix(i)+"mlp.experts.0.gate_proj.weight") {
			return nil, fmt.Errorf("mla: checkpoint %s: layer %d is a mixture-of-experts layer (mlp.experts.*), but config.json makes it dense (n_routed_experts, first_k_dense_replace, moe_layer_freq)", ck.sourceName, i)
		}
		a := ck.loadLayer(i, shared, &errs)
		if a == nil {
			continue
		}
		if c.SharedKVDown && shared.rows == 0 {
			shared = a.KVAProj
		}
		w.Blocks[i].Attn = a
	}
	for _, t := range w.tensors(c) {
		shape := []int{t.rows}
		if t.cols > 0 {
			shape = append(shape, t.cols)
		}
		if t.mat != nil && t.f32 {
			v, err := ck.Tensor(t.name, t.rows, t.cols)
			if err != nil {
				errs.add(err)
			} else {
				*t.mat = NewMatrix(t.rows, t.cols, v)
			}
			continue
		}
		if t.mat != nil {
			m, err := ck.Matrix(t.name, t.rows, t.cols)
			if err != nil {
				errs.add(err)
			} else {
				*t.mat = m
			}
			continue
		}
		v, err := ck.Tensor(t.name, shape...)
		if err != nil {
			errs.add(err)
			continue
		}
		*t.vec = v
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return w, nil
}

// WriteCheckpoint writes a model directory: config.json and the model's tensors as
// dt, in one model.safetensors or, with shards > 1, split over that many files with a
// model.safetensors.index.json, as Hugging Face lays them out.
func WriteCheckpoint(dir string, c Config, w *ModelWeights, dt DType, shards int) error {
	js, err := MarshalHFConfig(c)
	if err != nil {
		return err
	}
	tensors, err := w.Tensors(c, dt)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mla: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644); err != nil {
		return fmt.Errorf("mla: %w", err)
	}
	if shards <= 1 {
		return safetensors.Write(filepath.Join(dir, "model.safetensors"), tensors, map[string]string{"format": "pt"})
	}
	weightMap := map[string]string{}
	for s := range shards {
		lo, hi := span(len(tensors), s, shards, 1)
		file := fmt.Sprintf("model-%05d-of-%05d.safetensors", s+1, shards)
		for _, t := range tensors[lo:hi] {
			weightMap[t.Name] = file
		}
		if err := safetensors.Write(filepath.Join(dir, file), tensors[lo:hi], map[string]string{"format": "pt"}); err != nil {
			return err
		}
	}
	idx, err := json.MarshalIndent(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap}, "", "  ")
	if err != nil {
		return fmt.Errorf("mla: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644)
}
