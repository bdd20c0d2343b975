package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// workloadSpec is one cluster shape: how many producers (nsqd nodes), how
// many topics each announces and how many channels each topic has.
type workloadSpec struct {
	Name      string `json:"name"`
	Producers int    `json:"producers"`
	Topics    int    `json:"topics_per_producer"`
	Channels  int    `json:"channels_per_topic"`
}

// presets are the three cluster sizes the issue table measures upstream at.
var presets = []workloadSpec{
	{Name: "small", Producers: 10, Topics: 100, Channels: 2},
	{Name: "medium", Producers: 100, Topics: 1000, Channels: 4},
	{Name: "large", Producers: 200, Topics: 5000, Channels: 5},
}

func (s workloadSpec) String() string {
	return fmt.Sprintf("%s %dx%dx%d", s.Name, s.Producers, s.Topics, s.Channels)
}

// workload is a generated workload: the REGISTER commands each producer
// sends, ready to write, and what the daemon should hold afterwards.
type workload struct {
	spec workloadSpec
	seed uint64

	// poolSize is the number of topic names producers draw from.
	poolSize int
	// topics lists every topic at least one producer registers.
	topics []string
	// lookupPaths holds "/lookup?topic=T" for each of topics, so request
	// loops do not allocate.
	lookupPaths []string
	// channelPaths holds "/channels?topic=T" for each of topics.
	channelPaths []string
	// producersOf[i] is how many producers register topics[i].
	producersOf []int
	// commands[p] is producer p's pipelined "REGISTER t" and "REGISTER t c"
	// lines; counts[p] is how many lines that is.
	commands [][]byte
	counts   []int
	// total is the number of REGISTER commands over all producers.
	total int
}

// topicName formats pool index i with a fixed width so every name has the
// same length.
func topicName(i, width int) string {
	s := strconv.Itoa(i)
	for len(s) < width {
		s = "0" + s
	}
	return "topic-" + s
}

// generate builds the workload deterministically from seed. The topic pool
// holds producers*topics/2 names, so each topic has about two producers;
// each producer draws its topics from the pool without repetition and
// registers each topic, then each of its channels c0..c(n-1), the order nsqd
// announces them in.
func generate(spec workloadSpec, seed uint64) *workload {
	pool := max(spec.Producers*spec.Topics/2, spec.Topics, 1)
	width := max(len(strconv.Itoa(pool-1)), 6)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	channels := make([]string, spec.Channels)
	for c := range channels {
		channels[c] = "c" + strconv.Itoa(c)
	}

	// perm stays a permutation of the pool; a partial Fisher-Yates shuffle
	// of its first Topics slots draws each producer's sample uniformly.
	perm := make([]int32, pool)
	for i := range perm {
		perm[i] = int32(i)
	}
	counts := make([]int32, pool)
	w := &workload{
		spec:     spec,
		seed:     seed,
		poolSize: pool,
		commands: make([][]byte, spec.Producers),
		counts:   make([]int, spec.Producers),
	}
	perTopic := len("REGISTER ") + len("topic-") + width + 1 +
		spec.Channels*(len("REGISTER ")+len("topic-")+width+1+len(" c00")+1)
	for p := 0; p < spec.Producers; p++ {
		buf := make([]byte, 0, spec.Topics*perTopic)
		for i := 0; i < spec.Topics; i++ {
			j := i + rng.IntN(pool-i)
			perm[i], perm[j] = perm[j], perm[i]
			idx := perm[i]
			counts[idx]++
			name := topicName(int(idx), width)
			buf = append(buf, "REGISTER "...)
			buf = append(buf, name...)
			buf = append(buf, '\n')
			for _, ch := range channels {
				buf = append(buf, "REGISTER "...)
				buf = append(buf, name...)
				buf = append(buf, ' ')
				buf = append(buf, ch...)
				buf = append(buf, '\n')
			}
		}
		w.commands[p] = buf
		w.counts[p] = spec.Topics * (1 + spec.Channels)
		w.total += w.counts[p]
	}
	for idx, n := range counts {
		if n == 0 {
			continue
		}
		name := topicName(idx, width)
		w.topics = append(w.topics, name)
		w.lookupPaths = append(w.lookupPaths, "/lookup?topic="+name)
		w.channelPaths = append(w.channelPaths, "/channels?topic="+name)
		w.producersOf = append(w.producersOf, int(n))
	}
	return w
}
