// Reads LaTeX on stdin and writes it as a PNG to argv[2], for a person to look at
// (tests/render_png.rs). MathJax (TeX input with the ams package for align*, SVG output
// with glyphs as paths, so no fonts are needed) draws it; resvg rasterizes it on white.
// Prints {width, height, dark_fraction} as JSON; exits 1 on a TeX error.
const fs = require('fs');
const { mathjax } = require('mathjax-full/js/mathjax.js');
const { TeX } = require('mathjax-full/js/input/tex.js');
const { SVG } = require('mathjax-full/js/output/svg.js');
const { liteAdaptor } = require('mathjax-full/js/adaptors/liteAdaptor.js');
const { RegisterHTMLHandler } = require('mathjax-full/js/handlers/html.js');
require('mathjax-full/js/input/tex/ams/AmsConfiguration.js');
const { Resvg } = require('@resvg/resvg-js');

const EM_PX = 48; // pixels per em: a 16 px font at zoom 3
const MARGIN = 500; // in MathJax's units, 1000 to the em

const out = process.argv[2];
if (!out) {
  console.error('usage: node render.js OUT.png < formula.tex');
  process.exit(2);
}
const adaptor = liteAdaptor();
RegisterHTMLHandler(adaptor);
const doc = mathjax.document('', {
  InputJax: new TeX({ packages: ['base', 'ams'] }),
  OutputJax: new SVG({ fontCache: 'none' }),
});
const node = doc.convert(fs.readFileSync(0, 'utf8'), { display: true });
const svg = adaptor.firstChild(node);

// MathJax does not throw on bad TeX: it draws an merror node carrying the message.
const errors = [...adaptor.innerHTML(node).matchAll(/data-mjx-error="([^"]*)"/g)].map((m) => m[1]);
if (errors.length > 0) {
  console.error(`TeX error: ${errors.join('; ')}`);
  process.exit(1);
}

// Size in pixels from the viewBox (MathJax gives ex, which depend on the font), plus a margin.
const [x, y, w, h] = adaptor.getAttribute(svg, 'viewBox').split(/\s+/).map(Number);
adaptor.setAttribute(svg, 'viewBox', `${x - MARGIN} ${y - MARGIN} ${w + 2 * MARGIN} ${h + 2 * MARGIN}`);
adaptor.setAttribute(svg, 'width', `${((w + 2 * MARGIN) * EM_PX) / 1000}`);
adaptor.setAttribute(svg, 'height', `${((h + 2 * MARGIN) * EM_PX) / 1000}`);

const image = new Resvg(adaptor.outerHTML(svg), { background: 'white' }).render();
fs.writeFileSync(out, image.asPng());

// Share of dark pixels (RGBA, mean of RGB below half), so a blank image is caught.
const px = image.pixels;
let dark = 0;
for (let i = 0; i < px.length; i += 4) if (px[i] + px[i + 1] + px[i + 2] < 3 * 128) dark++;
console.log(JSON.stringify({ width: image.width, height: image.height, dark_fraction: dark / (px.length / 4) }));
