//! Latency percentile plots as standalone SVG (the classic HdrHistogram "percentile
//! distribution": x is the percentile on a log scale of 1 / (1 − p), so the tail gets the
//! room; y is latency in milliseconds). No dependencies: a person opens the file in a
//! browser.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

const W: f64 = 900.0;
const H: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
/// The x axis ends at 99.999%.
const MAX_NINES: f64 = 5.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// x position of percentile `q` (0..1).
fn x_of(q: f64) -> f64 {
    let nines = if q >= 1.0 {
        MAX_NINES
    } else {
        (-(1.0 - q).log10()).clamp(0.0, MAX_NINES)
    };
    LEFT + nines / MAX_NINES * (W - LEFT - RIGHT)
}

/// A "nice" axis maximum at or above `v`.
fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

/// Writes the latency plot where `--plot` says, or beside the `--json` report (as `.svg`);
/// nowhere if neither is given.
pub(crate) fn write_beside(
    plot: Option<&std::path::Path>,
    json: Option<&std::path::Path>,
    title: &str,
    label: &str,
    latency: &Histogram<u64>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let Some(path) = plot
        .map(std::path::Path::to_path_buf)
        .or_else(|| json.map(|j| j.with_extension("svg")))
    else {
        return Ok(());
    };
    let svg = percentile_svg(title, &[(label.to_owned(), latency)]);
    std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench: latency plot {}", path.display());
    Ok(())
}

/// One SVG with a curve per `(label, histogram of nanoseconds)`.
#[must_use]
pub fn percentile_svg(title: &str, series: &[(String, &Histogram<u64>)]) -> String {
    let max_ms = series
        .iter()
        .map(|(_, h)| h.max() as f64 / 1e6)
        .fold(0.0, f64::max);
    let y_max = nice(max_ms);
    let y_of = |ms: f64| H - BOTTOM - (ms / y_max) * (H - TOP - BOTTOM);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(
        s,
        r#"<text x="{}" y="25" font-size="16" text-anchor="middle">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    // Grid: percentiles.
    for (n, label) in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
        .iter()
        .enumerate()
    {
        let x = LEFT + n as f64 / MAX_NINES * (W - LEFT - RIGHT);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{label}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 18.0
        );
    }
    // Grid: latency.
    for i in 0..=5 {
        let ms = y_max * f64::from(i) / 5.0;
        let y = y_of(ms);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{ms}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text><text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">latency (ms)</text>"#,
        W / 2.0,
        H - 15.0,
        H / 2.0,
        H / 2.0
    );
    for (k, (label, h)) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let mut points = Vec::new();
        if !h.is_empty() {
            for v in h.iter_quantiles(5) {
                let q = v.quantile_iterated_to();
                let ms = h.highest_equivalent(v.value_iterated_to()) as f64 / 1e6;
                points.push(format!("{:.1},{:.1}", x_of(q), y_of(ms)));
            }
        }
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let ly = TOP + 16.0 + 18.0 * k as f64;
        let _ = write!(
            s,
            r#"<rect x="{}" y="{:.1}" width="14" height="4" fill="{color}"/><text x="{}" y="{:.1}">{}</text>"#,
            LEFT + 12.0,
            ly - 4.0,
            LEFT + 32.0,
            ly + 1.0,
            escape(label)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_has_a_curve_per_series_and_is_well_formed() {
        let mut a = Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3).expect("h");
        let mut b = a.clone();
        for i in 1..=10_000u64 {
            a.record(i * 1_000).expect("record");
            b.record(i * 3_000).expect("record");
        }
        let svg = percentile_svg("a < b", &[("a".into(), &a), ("b & c".into(), &b)]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("b &amp; c"));
        assert!(svg.contains("99.9%"));
        // The y axis reaches the slowest value: 30 ms → a 50 ms axis.
        assert!(svg.contains(">50<"), "{svg}");
    }

    #[test]
    fn the_x_axis_is_logarithmic_in_the_tail() {
        let (x0, x90, x99) = (x_of(0.0), x_of(0.9), x_of(0.99));
        assert!((x99 - x90 - (x90 - x0)).abs() < 1e-6);
        assert!(x_of(1.0) <= W - RIGHT + 1e-9);
    }
}
