//! The page and a copy of KaTeX (web/), compiled in: the page works offline and the binary
//! serves it from anywhere.

/// (path under the site root, content type, bytes).
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    ("/", "text/html; charset=utf-8", include_bytes!("../../web/index.html")),
    ("/app.js", "text/javascript; charset=utf-8", include_bytes!("../../web/app.js")),
    ("/style.css", "text/css; charset=utf-8", include_bytes!("../../web/style.css")),
    ("/katex/katex.min.js", "text/javascript; charset=utf-8", include_bytes!("../../web/katex/katex.min.js")),
    ("/katex/katex.min.css", "text/css; charset=utf-8", include_bytes!("../../web/katex/katex.min.css")),
    (
        "/katex/fonts/KaTeX_AMS-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_AMS-Regular.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Caligraphic-Bold.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Caligraphic-Bold.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Caligraphic-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Caligraphic-Regular.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Fraktur-Bold.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Fraktur-Bold.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Fraktur-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Fraktur-Regular.woff2"),
    ),
    ("/katex/fonts/KaTeX_Main-Bold.woff2", "font/woff2", include_bytes!("../../web/katex/fonts/KaTeX_Main-Bold.woff2")),
    (
        "/katex/fonts/KaTeX_Main-BoldItalic.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Main-BoldItalic.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Main-Italic.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Main-Italic.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Main-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Main-Regular.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Math-BoldItalic.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Math-BoldItalic.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Math-Italic.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Math-Italic.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_SansSerif-Bold.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_SansSerif-Bold.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_SansSerif-Italic.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_SansSerif-Italic.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_SansSerif-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_SansSerif-Regular.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Script-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Script-Regular.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Size1-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Size1-Regular.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Size2-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Size2-Regular.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Size3-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Size3-Regular.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Size4-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Size4-Regular.woff2"),
    ),
    (
        "/katex/fonts/KaTeX_Typewriter-Regular.woff2",
        "font/woff2",
        include_bytes!("../../web/katex/fonts/KaTeX_Typewriter-Regular.woff2"),
    ),
];
