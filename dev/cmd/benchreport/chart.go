package main

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// bar is one verification path on the chart.
type bar struct {
	Label string
	Sec   float64 // per token
	Ratio float64 // to the floor
}

// Bar colours: the floor, this project's paths, and the peers.
var (
	floorColor   = color.RGBA{R: 0x88, G: 0x88, B: 0x88, A: 0xff}
	projectColor = color.RGBA{R: 0x1f, G: 0x6f, B: 0xb4, A: 0xff}
	peerColor    = color.RGBA{R: 0xe0, G: 0x7b, B: 0x1a, A: 0xff}
)

var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// drawChart saves the verification paths as horizontal bars of µs per token
// on a log scale, each labelled with its time and its ratio to the floor.
func drawChart(bars []bar, path string) error {
	p := plot.New()
	p.Title.Text = "Token verification: µs per token (log scale), ratio to the bare RSA floor"
	p.Title.TextStyle.Font = sans
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = "µs per token"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans
		a.Label.TextStyle.Font.Size = vg.Points(11)
		a.Tick.Label.Font = sans
		a.Tick.Label.Font.Size = vg.Points(10)
	}
	p.Add(&hbars{bars: bars})
	// NominalY puts the first name at the bottom: reverse, so the floor is on top.
	names := make([]string, len(bars))
	for i, b := range bars {
		names[len(bars)-1-i] = b.Label
	}
	p.NominalY(names...)
	p.Y.Tick.Label.Font = sans
	p.Y.Tick.Label.Font.Size = vg.Points(11)
	height := vg.Length(len(bars))*0.55*vg.Inch + 1.2*vg.Inch
	return p.Save(10*vg.Inch, height, path)
}

// hbars draws horizontal bars from the left edge of a log axis, which
// gonum's bar chart cannot (its bars start at zero).
type hbars struct {
	bars []bar
}

// base is where bars start: a power of ten at least three times below the
// smallest value, so the shortest bar is still seen.
func (h *hbars) base() float64 {
	lo := math.Inf(1)
	for _, b := range h.bars {
		lo = math.Min(lo, b.Sec*1e6)
	}
	return math.Pow(10, math.Floor(math.Log10(lo/3)))
}

func (h *hbars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	x0 := trX(h.base())
	half := vg.Inch * 0.19
	label := text.Style{Color: color.Black, Font: sans, XAlign: draw.XLeft, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
	label.Font.Size = vg.Points(10)
	// A dashed line at the floor, for the eye to compare the bars with.
	floor := trX(h.bars[0].Sec * 1e6)
	c.StrokeLine2(draw.LineStyle{Color: floorColor, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}},
		floor, trY(-0.5), floor, trY(float64(len(h.bars))-0.5))
	for i, b := range h.bars {
		y := trY(float64(len(h.bars) - 1 - i))
		x1 := trX(b.Sec * 1e6)
		c.FillPolygon(barColor(b, i), []vg.Point{{X: x0, Y: y - half}, {X: x1, Y: y - half}, {X: x1, Y: y + half}, {X: x0, Y: y + half}})
		// A white ground under the label keeps the floor's line off the text.
		txt := barText(b, i)
		at := vg.Point{X: x1 + vg.Points(4), Y: y}
		w, h := label.Width(txt), label.Height(txt)
		c.FillPolygon(color.White, []vg.Point{{X: at.X, Y: y - h/2}, {X: at.X + w, Y: y - h/2}, {X: at.X + w, Y: y + h/2}, {X: at.X, Y: y + h/2}})
		c.FillText(label, at, txt)
	}
}

// DataRange leaves room right of the longest bar for its label: a decade.
func (h *hbars) DataRange() (xmin, xmax, ymin, ymax float64) {
	hi := 0.0
	for _, b := range h.bars {
		hi = math.Max(hi, b.Sec*1e6)
	}
	return h.base(), hi * 10, -0.5, float64(len(h.bars)) - 0.5
}

func barColor(b bar, i int) color.Color {
	switch {
	case i == 0:
		return floorColor
	case strings.HasPrefix(b.Label, "this project") || strings.HasPrefix(b.Label, "authorizer"):
		return projectColor
	}
	return peerColor
}

// barText is a bar's label: its time and its ratio to the floor.
func barText(b bar, i int) string {
	if i == 0 {
		return fmt.Sprintf("%s µs  (floor)", sig(b.Sec*1e6))
	}
	if b.Ratio < 1 {
		return fmt.Sprintf("%s µs  (%sx cheaper than the floor)", sig(b.Sec*1e6), sig(1/b.Ratio))
	}
	return fmt.Sprintf("%s µs  (%sx the floor)", sig(b.Sec*1e6), sig(b.Ratio))
}
