package catalog

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Catalog sizes. They match the tutorial's data set so that load numbers are
// comparable, but every record is synthetic (see generate).
const (
	numMovies = 580
	numTV     = 580
	// pageSize is how many records /discover returns, as in the original.
	pageSize = 20
)

// Seeds of the PCG generator. Fixed so that every instance (and every test
// run) serves the identical catalog; changing them changes the data.
const (
	seedHi = 0xA1BA_CA7A_1065_0001
	seedLo = 0x5EED_0000_0000_0580
)

// Encoded-size band of one record. Keeping every record inside it guarantees
// that any 20 records (a /discover page) encode to 11-15 KB, which the load
// tests rely on to have a realistic response size.
const (
	minRecordBytes = 580
	maxRecordBytes = 720
)

// movie is one movie record, with the field names and JSON types of the
// upstream API the tutorial proxied.
type movie struct {
	Adult            bool    `json:"adult"`
	BackdropPath     *string `json:"backdrop_path"`
	GenreIDs         []int   `json:"genre_ids"`
	ID               int     `json:"id"`
	OriginalLanguage string  `json:"original_language"`
	OriginalTitle    string  `json:"original_title"`
	Overview         string  `json:"overview"`
	Popularity       float64 `json:"popularity"`
	PosterPath       string  `json:"poster_path"`
	ReleaseDate      string  `json:"release_date"`
	Title            string  `json:"title"`
	Video            bool    `json:"video"`
	VoteAverage      float64 `json:"vote_average"`
	VoteCount        int     `json:"vote_count"`
}

// tvShow is one TV record; it differs from movie in the upstream API's naming
// (name/first_air_date) and in having origin_country.
type tvShow struct {
	Adult            bool     `json:"adult"`
	BackdropPath     *string  `json:"backdrop_path"`
	GenreIDs         []int    `json:"genre_ids"`
	ID               int      `json:"id"`
	OriginCountry    []string `json:"origin_country"`
	OriginalLanguage string   `json:"original_language"`
	OriginalName     string   `json:"original_name"`
	Overview         string   `json:"overview"`
	Popularity       float64  `json:"popularity"`
	PosterPath       string   `json:"poster_path"`
	FirstAirDate     string   `json:"first_air_date"`
	Name             string   `json:"name"`
	VoteAverage      float64  `json:"vote_average"`
	VoteCount        int      `json:"vote_count"`
}

// genreWeight is the probability that a record carries a genre. The weights
// are tuned so that Action (28) and Drama (18) are the largest genres, as in
// the original data.
type genreWeight struct {
	id int
	p  float64
}

var movieGenres = []genreWeight{
	{28, 0.40},    // Action
	{12, 0.22},    // Adventure
	{14, 0.14},    // Fantasy
	{16, 0.09},    // Animation
	{18, 0.26},    // Drama
	{27, 0.12},    // Horror
	{35, 0.22},    // Comedy
	{36, 0.06},    // History
	{37, 0.05},    // Western
	{53, 0.21},    // Thriller
	{80, 0.11},    // Crime
	{99, 0.05},    // Documentary
	{878, 0.16},   // Science Fiction
	{9648, 0.08},  // Mystery
	{10402, 0.05}, // Music
	{10749, 0.10}, // Romance
	{10751, 0.10}, // Family
	{10752, 0.05}, // War
	{10770, 0.05}, // TV Movie
}

var tvGenres = []genreWeight{
	{18, 0.55},    // Drama
	{16, 0.12},    // Animation
	{35, 0.25},    // Comedy
	{37, 0.05},    // Western
	{80, 0.18},    // Crime
	{99, 0.07},    // Documentary
	{9648, 0.12},  // Mystery
	{10749, 0.06}, // Romance
	{10751, 0.08}, // Family
	{10759, 0.18}, // Action & Adventure
	{10762, 0.06}, // Kids
	{10763, 0.05}, // News
	{10764, 0.06}, // Reality
	{10765, 0.16}, // Sci-Fi & Fantasy
	{10766, 0.05}, // Soap
	{10767, 0.05}, // Talk
	{10768, 0.05}, // War & Politics
}

// maxGenresPerRecord caps genre_ids like real listings, which rarely carry
// more than four.
const maxGenresPerRecord = 4

// language is an original_language with the countries a TV show in that
// language plausibly originates from.
type language struct {
	code      string
	weight    float64
	countries []string
}

var languages = []language{
	{"en", 0.62, []string{"US", "US", "US", "GB", "CA", "AU"}},
	{"ja", 0.07, []string{"JP"}},
	{"ko", 0.05, []string{"KR"}},
	{"es", 0.06, []string{"ES", "MX", "AR", "CO"}},
	{"fr", 0.05, []string{"FR", "BE", "CA"}},
	{"de", 0.03, []string{"DE", "AT"}},
	{"it", 0.02, []string{"IT"}},
	{"hi", 0.03, []string{"IN"}},
	{"zh", 0.03, []string{"CN", "TW"}},
	{"pt", 0.02, []string{"BR", "PT"}},
	{"sv", 0.01, []string{"SE"}},
	{"da", 0.01, []string{"DK"}},
}

// Word lists for titles and overviews. Only ASCII letters, spaces and
// apostrophes, so the encoded length equals the text length (no escaping).
var (
	adjectives = []string{
		"Silent", "Broken", "Hidden", "Last", "Crimson", "Golden", "Forgotten",
		"Endless", "Midnight", "Wild", "Frozen", "Burning", "Distant", "Secret",
		"Savage", "Quiet", "Electric", "Hollow", "Iron", "Lost", "Scarlet",
		"Shattered", "Restless", "Velvet", "Wicked", "Lonely", "Bright", "Final",
		"Northern", "Dark", "Stolen", "Sleeping", "Painted", "Glass", "Rogue",
		"Eternal", "Sunken", "Fearless", "Little", "Brave",
	}
	nouns = []string{
		"Harbor", "Empire", "Kingdom", "Horizon", "Shadow", "River", "Garden",
		"Signal", "Frontier", "Protocol", "Legacy", "Storm", "Station", "Witness",
		"Island", "Tide", "Crown", "Machine", "Orchard", "Mirror", "Highway",
		"Lantern", "Compass", "Fortress", "Voyage", "Promise", "Circuit",
		"Requiem", "Outpost", "Labyrinth", "Echo", "Verdict", "Sanctuary",
		"Meridian", "Covenant", "Carnival", "Paradox", "Summit", "Archive", "Orbit",
	}
	names = []string{
		"Nora", "Elias", "Mara", "Jonah", "Ines", "Theo", "Priya", "Callum",
		"Yuki", "Mateo", "Ada", "Felix", "Lena", "Omar", "Sofia", "Declan",
		"Hana", "Rafael", "Iris", "Tobias", "Amara", "Wes", "Freya", "Luca",
		"Maya", "Silas", "Zara", "Ezra", "Clara", "Kenji",
	}
	places = []string{
		"Lisbon", "a border town", "Neo Tokyo", "the Scottish Highlands",
		"a drowned city", "Marseille", "a remote research base", "Buenos Aires",
		"the Yukon", "a desert outpost", "Seoul", "a floating colony",
		"a fading seaside resort", "Prague", "the outer rim", "New Orleans",
		"a mountain monastery", "Cape Town", "an island prison", "Reykjavik",
		"a sprawling megacity", "rural Montana", "Istanbul", "a generation ship",
		"the Louisiana bayou", "Mumbai", "a snowbound hotel", "Havana",
		"the Atacama desert", "a quiet suburb",
	}
	people = []string{
		"a retired detective", "two estranged sisters", "a young cartographer",
		"a disgraced pilot", "a grieving widower", "an ambitious journalist",
		"a reluctant heir", "a small-time smuggler", "a brilliant but reckless surgeon",
		"a team of misfit thieves", "a lonely lighthouse keeper", "a former soldier",
		"an idealistic rookie cop", "a washed-up rock star", "a teenage hacker",
		"a stubborn botanist", "a family of circus performers", "an exiled prince",
		"a night-shift nurse", "a pair of rival chefs", "an android caretaker",
		"a mild-mannered accountant", "a fearless stunt double", "a burned-out teacher",
	}
	discoveries = []string{
		"a coded letter", "an abandoned lighthouse", "a long-buried secret",
		"a map that should not exist", "a stranger with their face",
		"a signal from deep space", "a stolen painting", "a missing diary",
		"a body in the river", "an impossible photograph", "a forgotten vault",
		"a door that opens onto another year", "a suitcase full of cash",
		"a conspiracy reaching the highest office", "a child who remembers everything",
	}
	goals = []string{
		"uncover the truth about their family", "win back the city they love",
		"clear their name", "bring a killer to justice", "save a failing business",
		"find the one person who can help", "protect an unlikely friend",
		"escape a past that refuses to stay buried", "stop a war from breaking out",
		"pull off one last job", "reunite a scattered crew", "keep a fragile promise",
		"outwit a ruthless rival", "rescue a kidnapped colleague",
	}
	deadlines = []string{
		"the winter storm hits", "the election", "the last train leaves",
		"the tide comes in", "sunrise", "the wedding", "the trial begins",
		"the signal fades", "the festival ends", "the money runs out",
		"their enemies close in", "the city goes dark",
	}
	events = []string{
		"the election", "the wedding", "the trial", "the harvest festival",
		"the championship", "the coronation", "the eclipse", "the anniversary",
		"the final exam", "the launch",
	}
	complications = []string{
		"old loyalties are tested", "nothing is what it seems",
		"every answer raises a darker question", "the past comes back with a vengeance",
		"trust becomes the rarest currency", "a single mistake could cost everything",
		"the line between hero and villain blurs", "time is running out",
		"love gets in the way", "someone on the inside is lying",
	}
	tones = []string{
		"gripping", "heartfelt", "darkly funny", "breathtaking", "tense",
		"sweeping", "intimate", "wildly inventive", "haunting", "uplifting",
	}
	kinds = []string{
		"thriller", "drama", "adventure", "comedy", "mystery", "fable",
		"character study", "odyssey", "romance", "chronicle",
	}
	outcomes = []string{
		"a fight for survival", "an unexpected friendship", "a reckoning years in the making",
		"a race against time", "a dangerous obsession", "a journey across the world",
		"a battle for the soul of a nation", "a story about second chances",
	}
)

// dataset is the generated catalog, shared read-only by every Server.
type dataset struct {
	movies []movie
	tv     []tvShow
	// movieJSON and tvJSON hold each record's pre-encoded JSON, in catalog
	// order, so /discover only concatenates bytes.
	movieJSON [][]byte
	tvJSON    [][]byte
	// movieGenre and tvGenre map a genre id to the indexes of its first
	// pageSize records in catalog order: exactly what /discover?genre serves.
	movieGenre map[int][]int
	tvGenre    map[int][]int
	// movieByID maps the decimal id string (the key /updatePopularity
	// receives) to the movie's index.
	movieByID map[string]int
}

var (
	dataOnce sync.Once
	data     *dataset
)

// catalogData returns the shared catalog, generating it on first use. Lazy
// generation keeps package init free for binaries that never serve it.
func catalogData() *dataset {
	dataOnce.Do(func() { data = generate() })
	return data
}

// generate builds the deterministic synthetic catalog. Catalog order is
// generation order.
func generate() *dataset {
	rng := rand.New(rand.NewPCG(seedHi, seedLo))
	g := &gen{rng: rng, used: make(map[int]bool, numMovies+numTV)}
	d := &dataset{
		movies:    make([]movie, numMovies),
		tv:        make([]tvShow, numTV),
		movieJSON: make([][]byte, numMovies),
		tvJSON:    make([][]byte, numTV),
		movieByID: make(map[string]int, numMovies),
	}
	for i := range d.movies {
		d.movies[i] = g.movie()
	}
	for i := range d.tv {
		d.tv[i] = g.tvShow()
	}
	// Top up sparse genres so every genre can fill a /discover page whatever
	// the dice said; the weights make this a rare no-op-ish correction.
	topUpGenres(len(d.movies), movieGenres, func(i int) *[]int { return &d.movies[i].GenreIDs })
	topUpGenres(len(d.tv), tvGenres, func(i int) *[]int { return &d.tv[i].GenreIDs })
	for i := range d.movies {
		g.fitOverview(&d.movies[i].Overview, false, func() []byte { return mustEncode(&d.movies[i]) })
		d.movieJSON[i] = mustEncode(&d.movies[i])
		d.movieByID[strconv.Itoa(d.movies[i].ID)] = i
	}
	for i := range d.tv {
		g.fitOverview(&d.tv[i].Overview, true, func() []byte { return mustEncode(&d.tv[i]) })
		d.tvJSON[i] = mustEncode(&d.tv[i])
	}
	d.movieGenre = genreIndex(len(d.movies), func(i int) []int { return d.movies[i].GenreIDs })
	d.tvGenre = genreIndex(len(d.tv), func(i int) []int { return d.tv[i].GenreIDs })
	return d
}

// mustEncode marshals a record. The record types contain only strings, ints,
// finite floats, bools and slices, which cannot fail to encode.
func mustEncode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("catalog: encoding a generated record: " + err.Error())
	}
	return b
}

// topUpGenres adds a genre to the earliest records lacking it until it has
// pageSize records, so every listed genre can fill a page.
func topUpGenres(n int, genres []genreWeight, ids func(int) *[]int) {
	for _, gw := range genres {
		count := 0
		for i := range n {
			if slices.Contains(*ids(i), gw.id) {
				count++
			}
		}
		for i := 0; i < n && count < pageSize; i++ {
			p := ids(i)
			if !slices.Contains(*p, gw.id) && len(*p) < maxGenresPerRecord {
				*p = append(*p, gw.id)
				count++
			}
		}
	}
}

// genreIndex lists, per genre, the first pageSize record indexes carrying it.
func genreIndex(n int, ids func(int) []int) map[int][]int {
	idx := make(map[int][]int)
	for i := range n {
		for _, g := range ids(i) {
			if len(idx[g]) < pageSize {
				idx[g] = append(idx[g], i)
			}
		}
	}
	return idx
}

// gen holds generator state shared by movie and TV generation.
type gen struct {
	rng  *rand.Rand
	used map[int]bool // ids already handed out, across movies and TV
}

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// id returns a fresh id unique across both catalogs, in a TMDB-like range.
func (g *gen) id(lo, hi int) int {
	for {
		id := lo + g.rng.IntN(hi-lo)
		if !g.used[id] {
			g.used[id] = true
			return id
		}
	}
}

// imagePath mimics the upstream image paths: 27 alphanumerics and .jpg.
func (g *gen) imagePath() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [1 + 27 + 4]byte
	b[0] = '/'
	for i := 1; i <= 27; i++ {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	copy(b[28:], ".jpg")
	return string(b[:])
}

// backdrop is usually an image path but sometimes null, as upstream.
func (g *gen) backdrop() *string {
	if g.rng.Float64() < 0.06 {
		return nil
	}
	p := g.imagePath()
	return &p
}

func (g *gen) genres(weights []genreWeight) []int {
	var ids []int
	for _, gw := range weights {
		if g.rng.Float64() < gw.p {
			ids = append(ids, gw.id)
		}
	}
	if len(ids) == 0 {
		// genre_ids is never empty: fall back to a weighted single pick.
		ids = append(ids, g.weightedGenre(weights))
	}
	g.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	if len(ids) > maxGenresPerRecord {
		ids = ids[:maxGenresPerRecord]
	}
	return ids
}

func (g *gen) weightedGenre(weights []genreWeight) int {
	total := 0.0
	for _, gw := range weights {
		total += gw.p
	}
	x := g.rng.Float64() * total
	for _, gw := range weights {
		if x < gw.p {
			return gw.id
		}
		x -= gw.p
	}
	return weights[0].id
}

func (g *gen) language() language {
	x := g.rng.Float64()
	for _, l := range languages {
		if x < l.weight {
			return l
		}
		x -= l.weight
	}
	return languages[0]
}

func (g *gen) date(fromYear, toYear int) string {
	y := fromYear + g.rng.IntN(toYear-fromYear+1)
	m := 1 + g.rng.IntN(12)
	d := 1 + g.rng.IntN(28) // every month has day 28, so all dates are valid
	return strconv.Itoa(y) + "-" + pad2(m) + "-" + pad2(d)
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// round3 keeps three decimals like the upstream floats, which also keeps the
// encoded size predictable.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// popularity is skewed towards the low end of ~100-1070, like real listings.
func (g *gen) popularity() float64 {
	u := g.rng.Float64()
	return round3(100 + 970*u*u)
}

func (g *gen) votes() (float64, int) {
	avg := round3(4.5 + 4.4*g.rng.Float64())
	count := int(math.Exp(g.rng.Float64() * math.Log(30000)))
	return avg, count
}

func (g *gen) movieTitle() string {
	switch g.rng.IntN(8) {
	case 0:
		return "The " + g.pick(adjectives) + " " + g.pick(nouns)
	case 1:
		return g.pick(nouns) + " of the " + g.pick(nouns)
	case 2:
		return g.pick(adjectives) + " " + g.pick(nouns)
	case 3:
		return g.pick(names) + "'s " + g.pick(nouns)
	case 4:
		return "The " + g.pick(nouns)
	case 5:
		return g.pick(adjectives) + " " + g.pick(nouns) + " " + strconv.Itoa(2+g.rng.IntN(3))
	case 6:
		return g.pick(nouns) + ": " + g.pick(adjectives) + " " + g.pick(nouns)
	default:
		return "A " + g.pick(adjectives) + " " + g.pick(nouns)
	}
}

func (g *gen) tvName() string {
	switch g.rng.IntN(6) {
	case 0:
		return "The " + g.pick(nouns) + " Files"
	case 1:
		return g.pick(adjectives) + " " + g.pick(nouns)
	case 2:
		return g.pick(names) + " and " + g.pick(names)
	case 3:
		return "The " + g.pick(adjectives) + " " + g.pick(nouns)
	case 4:
		return g.pick(nouns) + " Nights"
	default:
		return g.pick(nouns)
	}
}

// sentence returns one overview sentence; TV shows get a few series-specific
// templates.
func (g *gen) sentence(tv bool, prev int) (string, int) {
	n := 6
	if tv {
		n = 8
	}
	// Never repeat the previous template, which would read as boilerplate.
	t := g.rng.IntN(n - 1)
	if t >= prev {
		t++
	}
	var s string
	switch t {
	case 0:
		s = "When " + g.pick(people) + " stumbles upon " + g.pick(discoveries) +
			", they must " + g.pick(goals) + " before " + g.pick(deadlines) + "."
	case 1:
		s = "Set in " + g.pick(places) + ", this " + g.pick(tones) + " " + g.pick(kinds) +
			" follows " + g.pick(people) + " determined to " + g.pick(goals) + "."
	case 2:
		s = capitalize(g.pick(people)) + " and " + g.pick(names) + " cross paths in " +
			g.pick(places) + ", but " + g.pick(complications) + "."
	case 3:
		s = "What begins as a simple favor soon turns into " + g.pick(outcomes) + "."
	case 4:
		s = "As " + g.pick(events) + " draws near, " + g.pick(names) +
			" learns that " + g.pick(complications) + "."
	case 5:
		s = "Haunted by " + g.pick(discoveries) + ", " + g.pick(names) + " sets out to " +
			g.pick(goals) + "."
	case 6:
		s = "Across " + strconv.Itoa(2+g.rng.IntN(6)) + " seasons, the series charts " +
			g.pick(outcomes) + " in " + g.pick(places) + "."
	default:
		s = "Each episode finds " + g.pick(people) + " racing to " + g.pick(goals) + "."
	}
	return s, t
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// overview strings sentences together until it is at least minLen long.
func (g *gen) overview(tv bool, minLen int) string {
	var b strings.Builder
	prev := -1
	for b.Len() < minLen {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		var s string
		s, prev = g.sentence(tv, prev)
		b.WriteString(s)
	}
	return b.String()
}

// fitOverview rewrites *ov until the encoded record lands in the size band.
// Sentences are whole, so it retries rather than truncates, and falls back
// to trimming at a word boundary only if the dice keep missing.
func (g *gen) fitOverview(ov *string, tv bool, encode func() []byte) {
	*ov = ""
	base := len(encode())
	lo, hi := minRecordBytes-base, maxRecordBytes-base
	for range 100 {
		*ov = g.overview(tv, lo)
		if len(*ov) <= hi {
			return
		}
	}
	s := *ov
	for len(s) > hi-1 {
		cut := strings.LastIndexByte(s, ' ')
		if cut <= 0 {
			cut = hi - 1
		}
		s = s[:cut]
	}
	*ov = s + "."
}

func (g *gen) movie() movie {
	lang := g.language()
	title := g.movieTitle()
	avg, count := g.votes()
	return movie{
		Adult:            false,
		BackdropPath:     g.backdrop(),
		GenreIDs:         g.genres(movieGenres),
		ID:               g.id(11, 1_300_000),
		OriginalLanguage: lang.code,
		OriginalTitle:    title,
		Popularity:       g.popularity(),
		PosterPath:       g.imagePath(),
		ReleaseDate:      g.date(1965, 2025),
		Title:            title,
		Video:            g.rng.Float64() < 0.03,
		VoteAverage:      avg,
		VoteCount:        count,
	}
}

func (g *gen) tvShow() tvShow {
	lang := g.language()
	name := g.tvName()
	avg, count := g.votes()
	return tvShow{
		Adult:            false,
		BackdropPath:     g.backdrop(),
		GenreIDs:         g.genres(tvGenres),
		ID:               g.id(1, 260_000),
		OriginCountry:    []string{g.pick(lang.countries)},
		OriginalLanguage: lang.code,
		OriginalName:     name,
		Popularity:       g.popularity(),
		PosterPath:       g.imagePath(),
		FirstAirDate:     g.date(1985, 2025),
		Name:             name,
		VoteAverage:      avg,
		VoteCount:        count,
	}
}
