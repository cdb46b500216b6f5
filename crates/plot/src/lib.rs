#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

/// One logged step of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossPoint {
    /// Optimiser steps taken.
    pub step: u64,
    /// Training loss at that step (nats/char).
    pub train_loss: f64,
    /// Validation loss, when it was measured at that step (nats/char).
    pub val_loss: Option<f64>,
}

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Nothing to draw.
    #[error("no logged steps to plot: train for at least `train.log_every` steps first")]
    NoData,
    /// Drawing or writing the file failed.
    #[error("cannot draw {}: {reason}", path.display())]
    Draw {
        /// The file being written.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// The files [`plot_losses`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotFiles {
    /// The PNG.
    pub png: PathBuf,
    /// The SVG.
    pub svg: PathBuf,
}

const SIZE: (u32, u32) = (960, 540);
const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans is a valid font"));
    });
}

/// Draws training and validation loss against step into `stem.png` and
/// `stem.svg` (e.g. `runs/X/loss` gives `runs/X/loss.png` and `runs/X/loss.svg`).
/// Each file is written to a temporary name and renamed, so a crash never leaves
/// half a picture behind. Non-finite losses are left out.
pub fn plot_losses(points: &[LossPoint], title: &str, stem: &Path) -> Result<PlotFiles, PlotError> {
    let train: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.train_loss.is_finite())
        .map(|p| (p.step as f64, p.train_loss))
        .collect();
    let val: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| {
            p.val_loss
                .filter(|v| v.is_finite())
                .map(|v| (p.step as f64, v))
        })
        .collect();
    if train.is_empty() && val.is_empty() {
        return Err(PlotError::NoData);
    }
    register_font();
    let files = PlotFiles {
        png: stem.with_extension("png"),
        svg: stem.with_extension("svg"),
    };
    let curves = Curves {
        title,
        train: &train,
        val: &val,
    };
    write_atomically(&files.png, |tmp| {
        curves.draw(BitMapBackend::new(tmp, SIZE).into_drawing_area())
    })?;
    write_atomically(&files.svg, |tmp| {
        curves.draw(SVGBackend::new(tmp, SIZE).into_drawing_area())
    })?;
    Ok(files)
}

/// Runs `draw` on a temporary path beside `path` (same extension, so the
/// backend picks the right encoder), then puts it in place durably.
fn write_atomically(
    path: &Path,
    draw: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), PlotError> {
    charrnn_fs::replace(path, draw, |e| e.to_string()).map_err(|reason| PlotError::Draw {
        path: path.to_path_buf(),
        reason,
    })
}

struct Curves<'a> {
    title: &'a str,
    train: &'a [(f64, f64)],
    val: &'a [(f64, f64)],
}

impl Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, area: DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        area.fill(&WHITE).map_err(err)?;
        let all = || self.train.iter().chain(self.val);
        let max_step = all().map(|p| p.0).fold(1.0, f64::max);
        let (lo, hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
        let pad = ((hi - lo) * 0.05).max(0.05);
        let mut chart = ChartBuilder::on(&area)
            .caption(self.title, (FONT, 24))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..max_step, (lo - pad)..(hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("loss (nats/char)")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .draw()
            .map_err(err)?;
        let train_color = RGBColor(31, 119, 180);
        let val_color = RGBColor(214, 39, 40);
        chart
            .draw_series(LineSeries::new(
                self.train.iter().copied(),
                train_color.stroke_width(2),
            ))
            .map_err(err)?
            .label("training")
            .legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], train_color.stroke_width(2))
            });
        if !self.val.is_empty() {
            chart
                .draw_series(LineSeries::new(
                    self.val.iter().copied(),
                    val_color.stroke_width(2),
                ))
                .map_err(err)?
                .label("validation")
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], val_color.stroke_width(2))
                });
            chart
                .draw_series(
                    self.val
                        .iter()
                        .map(|&p| Circle::new(p, 4, val_color.filled())),
                )
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
        area.present().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points() -> Vec<LossPoint> {
        (1..=50)
            .map(|s| LossPoint {
                step: s * 10,
                train_loss: 6.0 - (s as f64).ln(),
                val_loss: (s % 10 == 0).then(|| 6.2 - (s as f64).ln()),
            })
            .collect()
    }

    #[test]
    fn writes_a_png_and_an_svg_with_both_curves() {
        let dir = tempfile::tempdir().unwrap();
        let files = plot_losses(&points(), "test run", &dir.path().join("loss")).unwrap();
        let png = std::fs::read(&files.png).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() > 5_000, "a real picture, not an empty file");
        let svg = std::fs::read_to_string(&files.svg).unwrap();
        for text in [
            "<svg",
            "training",
            "validation",
            "step",
            "test run",
            "<polyline",
        ] {
            assert!(svg.contains(text), "the SVG lacks {text:?}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn png_has_text_drawn_in_it() {
        // Without a usable font plotters draws no text and says nothing. A title
        // adds dark pixels, so the same plot with a title compresses worse.
        let dir = tempfile::tempdir().unwrap();
        let titled = plot_losses(&points(), "a long title", &dir.path().join("a")).unwrap();
        let untitled = plot_losses(&points(), "", &dir.path().join("b")).unwrap();
        let len = |p: &Path| std::fs::metadata(p).unwrap().len();
        assert!(len(&titled.png) > len(&untitled.png) + 500);
    }

    #[test]
    fn no_points_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = plot_losses(&[], "t", &dir.path().join("loss")).unwrap_err();
        assert!(matches!(err, PlotError::NoData));
        let nan = [LossPoint {
            step: 1,
            train_loss: f64::NAN,
            val_loss: None,
        }];
        assert!(matches!(
            plot_losses(&nan, "t", &dir.path().join("loss")),
            Err(PlotError::NoData)
        ));
    }
}
