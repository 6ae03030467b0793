//! Keras' image preprocessing layers: `Rescaling` and `Resizing`, and the augmentations
//! `RandomCrop`, `RandomFlip`, `RandomTranslation`, `RandomRotation`, `RandomZoom`,
//! `RandomBrightness` and `RandomContrast`, active in training only (in inference they pass
//! the input through, except `RandomCrop`, which resizes it to its window).
//!
//! Each random layer draws one set of parameters per image, serially, before the kernel runs
//! on the pool, so a seed fixes the result whatever the number of threads. With `seed` the
//! layer has its own generator (Keras' `SeedGenerator(seed)`); without, it draws from the
//! model's, which the model's seed fixes. Its own generator advances only when the training
//! step commits, so a failed step changes nothing.
//!
//! Where Keras 3 and tf.keras differ, the documented behaviour is kept: `RandomFlip`'s
//! `horizontal_and_vertical` decides each axis separately (Keras 3 flips both or neither);
//! `RandomContrast`'s `factor: f` draws from [1 − f, 1 + f] (Keras 3 draws from [1, 1 + f]).

use super::config::{layer_config, ConfigValue, Json};
use super::{batch_shape, layer_common, one_input, Ctx, Layer, LayerKind};
use crate::autograd::Var;
use crate::error::Error;
use crate::kernels::augment::{Affine, FillMode, Resample, Sampling};
use crate::kernels::upsample::Interpolation;
use crate::ops::augment::{self as ops, Fit};
use crate::rng::Rng;
use crate::Result;

/// A range `[lower, upper]` given as one number `f` (`[−|f|, |f|]`) or as a pair, as Keras'
/// `factor`s take it; written as the pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Factor {
    pub lower: f32,
    pub upper: f32,
}

impl ConfigValue for Factor {
    const EXPECTED: &'static str = "a number or a pair [lower, upper] of numbers";
    fn read(v: &Json) -> Option<Self> {
        match v {
            Json::Number(_) => f32::read(v).map(|f| Factor { lower: -f.abs(), upper: f.abs() }),
            Json::Array(a) if a.len() == 2 => {
                let (a, b) = (f32::read(&a[0])?, f32::read(&a[1])?);
                Some(Factor { lower: a.min(b), upper: a.max(b) })
            }
            _ => None,
        }
    }
    fn write(&self) -> Json {
        Json::from(vec![self.lower.write(), self.upper.write()])
    }
}

impl Factor {
    fn check(self, option: &str, low: f32, high: f32) -> Result<Factor> {
        if self.lower < low || self.upper > high {
            return Err(Error::argument(format!(
                "option '{option}' must lie in [{low}, {high}], got [{}, {}]",
                self.lower, self.upper
            )));
        }
        Ok(self)
    }
}

/// `RandomContrast`'s `factor`: `f` (as `[f, f]`) or `[lower, upper]`, the contrast factor
/// drawn from [1 − lower, 1 + upper]; written as the pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContrastFactor {
    pub lower: f32,
    pub upper: f32,
}

impl ConfigValue for ContrastFactor {
    const EXPECTED: &'static str = "a number or a pair [lower, upper] of numbers";
    fn read(v: &Json) -> Option<Self> {
        match v {
            Json::Number(_) => f32::read(v).map(|f| ContrastFactor { lower: f, upper: f }),
            Json::Array(a) if a.len() == 2 => {
                // Sorted, as Keras sorts a factor pair.
                let (a, b) = (f32::read(&a[0])?, f32::read(&a[1])?);
                Some(ContrastFactor { lower: a.min(b), upper: a.max(b) })
            }
            _ => None,
        }
    }
    fn write(&self) -> Json {
        Json::from(vec![self.lower.write(), self.upper.write()])
    }
}

/// The range of the input values, `[low, high]` (what brightness and contrast clip to).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValueRange(pub f32, pub f32);

impl ConfigValue for ValueRange {
    const EXPECTED: &'static str = "a pair [low, high] of numbers with low < high";
    fn read(v: &Json) -> Option<Self> {
        match v.as_array().map(Vec::as_slice) {
            Some([a, b]) => Some(ValueRange(f32::read(a)?, f32::read(b)?)).filter(|r| r.0 < r.1),
            _ => None,
        }
    }
    fn write(&self) -> Json {
        Json::from(vec![self.0.write(), self.1.write()])
    }
}

impl ConfigValue for FillMode {
    const EXPECTED: &'static str = FillMode::EXPECTED;
    fn read(v: &Json) -> Option<Self> {
        v.as_str().and_then(|s| FillMode::parse(s).ok())
    }
    fn write(&self) -> Json {
        Json::String(self.name().into())
    }
}

/// Which axes `RandomFlip` may flip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlipMode {
    Horizontal,
    Vertical,
    HorizontalAndVertical,
}

impl ConfigValue for FlipMode {
    const EXPECTED: &'static str = "'horizontal', 'vertical' or 'horizontal_and_vertical'";
    fn read(v: &Json) -> Option<Self> {
        match v.as_str()? {
            "horizontal" => Some(FlipMode::Horizontal),
            "vertical" => Some(FlipMode::Vertical),
            "horizontal_and_vertical" => Some(FlipMode::HorizontalAndVertical),
            _ => None,
        }
    }
    fn write(&self) -> Json {
        Json::String(
            match self {
                FlipMode::Horizontal => "horizontal",
                FlipMode::Vertical => "vertical",
                FlipMode::HorizontalAndVertical => "horizontal_and_vertical",
            }
            .into(),
        )
    }
}

layer_config! {
    pub struct RescalingConfig {
        /// Multiplies every value (`1 / 255` maps bytes to [0, 1]).
        scale "scale": f32,
        /// Added after the scale.
        offset "offset": f32 = 0.0,
    }
}

layer_config! {
    pub struct RandomFlipConfig {
        mode "mode": FlipMode = FlipMode::HorizontalAndVertical,
        seed "seed": Option<u64> = None,
    }
}

layer_config! {
    pub struct RandomTranslationConfig {
        /// Shift of the rows as a fraction of the height, drawn from this range (positive:
        /// down), each bound in [−1, 1].
        height_factor "heightFactor": Factor,
        /// Shift of the columns as a fraction of the width (positive: right).
        width_factor "widthFactor": Factor,
        fill_mode "fillMode": FillMode = FillMode::Reflect,
        interpolation "interpolation": Interpolation = Interpolation::Bilinear,
        seed "seed": Option<u64> = None,
        /// The value outside the image when `fillMode` is `'constant'`.
        fill_value "fillValue": f32 = 0.0,
    }
}

layer_config! {
    pub struct RandomRotationConfig {
        /// The angle as a fraction of a full turn, drawn from this range (positive:
        /// counter-clockwise); `0.1` rotates by up to ±36°.
        factor "factor": Factor,
        fill_mode "fillMode": FillMode = FillMode::Reflect,
        interpolation "interpolation": Interpolation = Interpolation::Bilinear,
        seed "seed": Option<u64> = None,
        fill_value "fillValue": f32 = 0.0,
    }
}

layer_config! {
    pub struct RandomZoomConfig {
        /// The vertical zoom `z` is 1 + a draw from this range (each bound at least −1):
        /// positive values zoom out (the image shrinks), negative ones zoom in.
        height_factor "heightFactor": Factor,
        /// The horizontal zoom likewise; `null` uses the vertical zoom (the aspect ratio kept).
        width_factor "widthFactor": Option<Factor> = None,
        fill_mode "fillMode": FillMode = FillMode::Reflect,
        interpolation "interpolation": Interpolation = Interpolation::Bilinear,
        seed "seed": Option<u64> = None,
        fill_value "fillValue": f32 = 0.0,
    }
}

layer_config! {
    pub struct RandomBrightnessConfig {
        /// The shift as a fraction of the value range, drawn from this range, each bound in
        /// [−1, 1].
        factor "factor": Factor,
        /// The range of the input values; the output is clipped to it.
        value_range "valueRange": ValueRange = ValueRange(0.0, 255.0),
        seed "seed": Option<u64> = None,
    }
}

layer_config! {
    pub struct RandomContrastConfig {
        /// `f` draws the contrast factor from [1 − f, 1 + f], a pair from [1 − lower,
        /// 1 + upper] (sorted, as Keras does); each in [0, 1].
        factor "factor": ContrastFactor,
        value_range "valueRange": ValueRange = ValueRange(0.0, 255.0),
        seed "seed": Option<u64> = None,
    }
}

layer_config! {
    pub struct ResizingConfig {
        /// The output's height and width.
        height "height": usize,
        width "width": usize,
        interpolation "interpolation": Interpolation = Interpolation::Bilinear,
        /// Cut out the largest centred window of the output's aspect ratio before resizing,
        /// so that nothing is stretched.
        crop_to_aspect_ratio "cropToAspectRatio": bool = false,
        /// Pad the short side evenly to the output's aspect ratio before resizing, so that
        /// nothing is stretched or cut off (at most one of the two).
        pad_to_aspect_ratio "padToAspectRatio": bool = false,
        /// How the padding is filled: only `'constant'`, as in Keras.
        fill_mode "fillMode": FillMode = FillMode::Constant,
        fill_value "fillValue": f32 = 0.0,
    }
}

impl ResizingConfig {
    /// The crop or padding the flags ask for, refusing what Keras refuses.
    fn fit(&self) -> Result<Fit> {
        if self.fill_mode != FillMode::Constant {
            return Err(Error::argument(format!(
                "option 'fillMode': Resizing pads with 'constant' only, got '{}'",
                self.fill_mode.name()
            )));
        }
        Fit::from_flags(self.crop_to_aspect_ratio, self.pad_to_aspect_ratio, self.fill_value.into())
    }
}

layer_config! {
    pub struct RandomCropConfig {
        height "height": usize,
        width "width": usize,
        seed "seed": Option<u64> = None,
    }
}

/// The checks of an output size, which the config's types cannot make.
fn check_size(height: usize, width: usize) -> Result<()> {
    if height == 0 || width == 0 {
        return Err(Error::argument(format!(
            "options 'height' and 'width' must be at least 1, got {height} and {width}"
        )));
    }
    Ok(())
}

pub(super) const KINDS: &[LayerKind] = &[
    LayerKind {
        class_name: "Rescaling",
        default_name: "rescaling",
        make: |c| Ok(Box::new(Rescaling::new(RescalingConfig::from_json(c)?))),
    },
    LayerKind {
        class_name: "Resizing",
        default_name: "resizing",
        make: |c| Ok(Box::new(Resizing::new(ResizingConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "RandomCrop",
        default_name: "random_crop",
        make: |c| Ok(Box::new(Random::new(RandomCropConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "RandomFlip",
        default_name: "random_flip",
        make: |c| Ok(Box::new(Random::new(RandomFlipConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "RandomTranslation",
        default_name: "random_translation",
        make: |c| Ok(Box::new(Random::new(RandomTranslationConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "RandomRotation",
        default_name: "random_rotation",
        make: |c| Ok(Box::new(Random::new(RandomRotationConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "RandomZoom",
        default_name: "random_zoom",
        make: |c| Ok(Box::new(Random::new(RandomZoomConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "RandomBrightness",
        default_name: "random_brightness",
        make: |c| Ok(Box::new(Random::new(RandomBrightnessConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "RandomContrast",
        default_name: "random_contrast",
        make: |c| Ok(Box::new(Random::new(RandomContrastConfig::from_json(c)?)?)),
    },
];

/// An image input `[height, width, channels]` with no zero dimension.
fn image_input(inputs: &[&[usize]]) -> Result<Vec<usize>> {
    let input = one_input(inputs)?;
    if input.len() != 3 || input.contains(&0) {
        return Err(Error::shape(format!(
            "expects input [batch, height, width, channels] with no zero dimension, got {}",
            batch_shape(input)
        )));
    }
    Ok(input.to_vec())
}

/// Keras `Rescaling`: `x·scale + offset`, in training and inference alike.
#[derive(Clone)]
pub struct Rescaling {
    name: String,
    trainable: bool,
    pub config: RescalingConfig,
}

impl Rescaling {
    pub fn new(config: RescalingConfig) -> Self {
        Rescaling { name: String::new(), trainable: true, config }
    }
}

impl Layer for Rescaling {
    layer_common!("Rescaling");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(one_input(inputs)?.to_vec())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        Ok(ops::rescale(ctx.tape, inputs[0], self.config.scale, self.config.offset))
    }
}

/// Keras `Resizing`: every image to `height × width`, in training and inference alike.
#[derive(Clone)]
pub struct Resizing {
    name: String,
    trainable: bool,
    pub config: ResizingConfig,
}

impl Resizing {
    pub fn new(config: ResizingConfig) -> Result<Self> {
        check_size(config.height, config.width)?;
        config.fit()?;
        Ok(Resizing { name: String::new(), trainable: true, config })
    }
}

impl Layer for Resizing {
    layer_common!("Resizing");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = image_input(inputs)?;
        Ok(vec![self.config.height, self.config.width, input[2]])
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        let c = &self.config;
        let bilinear = c.interpolation == Interpolation::Bilinear;
        ops::resize(ctx.tape, inputs[0], [c.height, c.width], bilinear, c.fit()?)
    }
}

/// One augmentation: its config, the checks of its options, and what it does to a batch of
/// images with parameters drawn from `rng`.
pub trait Augmentation: Clone + Send + Sync + 'static {
    const KIND: &'static str;
    fn seed(&self) -> Option<u64>;
    fn to_json(&self) -> Json;
    /// Checks the values the config's types cannot (ranges).
    fn check(&self) -> Result<()>;
    /// The augmented batch `x` of shape `[n, h, w, c]`.
    fn apply(&self, ctx: &mut Ctx, x: Var, shape: [usize; 4], rng: &mut Rng) -> Result<Var>;
    /// One example's output shape for its input `[h, w, c]`: the same unless the layer says.
    fn output_shape(&self, input: Vec<usize>) -> Vec<usize> {
        input
    }
    /// The batch in inference: the input itself unless the layer says.
    fn infer(&self, _ctx: &mut Ctx, x: Var, _shape: [usize; 4]) -> Result<Var> {
        Ok(x)
    }
}

/// A random augmentation layer: training only, its draws from its own seeded generator or
/// the model's.
#[derive(Clone)]
pub struct Random<A: Augmentation> {
    name: String,
    trainable: bool,
    pub config: A,
    /// The layer's own generator (when seeded), as of the last committed step.
    own: Option<Rng>,
    /// The generator as the current step left it, until the step commits.
    pending: Option<Rng>,
}

impl<A: Augmentation> Random<A> {
    pub fn new(config: A) -> Result<Self> {
        config.check()?;
        let own = config.seed().map(Rng::new);
        Ok(Random { name: String::new(), trainable: true, config, own, pending: None })
    }
}

impl<A: Augmentation> Layer for Random<A> {
    fn name(&self) -> &str {
        &self.name
    }
    fn set_name(&mut self, name: String) {
        self.name = name;
    }
    fn kind(&self) -> &'static str {
        A::KIND
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }
    fn clone_box(&self) -> Box<dyn Layer> {
        Box::new(self.clone())
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        Ok(self.config.output_shape(image_input(inputs)?))
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], _: &[Var]) -> Result<Var> {
        let shape = ops::image_shape(A::KIND, ctx.tape.value(inputs[0]))?;
        if !ctx.training {
            return self.config.infer(ctx, inputs[0], shape);
        }
        match self.pending.take().or_else(|| self.own.clone()) {
            Some(mut rng) => {
                let out = self.config.apply(ctx, inputs[0], shape, &mut rng);
                self.pending = Some(rng);
                out
            }
            None => {
                let mut rng = ctx.rng.clone();
                let out = self.config.apply(ctx, inputs[0], shape, &mut rng);
                *ctx.rng = rng;
                out
            }
        }
    }

    fn end_step(&mut self, commit: bool) {
        if let (true, Some(rng)) = (commit, self.pending.take()) {
            self.own = Some(rng);
        }
        self.pending = None;
    }
}

fn resample(fill: FillMode, interpolation: Interpolation, fill_value: f32) -> Resample {
    let sampling = match interpolation {
        Interpolation::Bilinear => Sampling::Bilinear,
        Interpolation::Nearest => Sampling::Nearest,
    };
    Resample { sampling, fill, fill_value }
}

/// Draws one value per image from `[lower, upper]`.
fn draw(rng: &mut Rng, n: usize, f: Factor) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(f.lower, f.upper)).collect()
}

/// Keras 3's `RandomCrop`: in training, one window of `height × width` at a random place,
/// the same for the whole batch (as Keras does); in inference, and in training when the
/// image is smaller than the window, the image resized to it without stretching.
impl Augmentation for RandomCropConfig {
    const KIND: &'static str = "RandomCrop";
    fn seed(&self) -> Option<u64> {
        self.seed
    }
    fn to_json(&self) -> Json {
        RandomCropConfig::to_json(self)
    }
    fn check(&self) -> Result<()> {
        check_size(self.height, self.width)
    }
    fn apply(&self, ctx: &mut Ctx, x: Var, shape: [usize; 4], rng: &mut Rng) -> Result<Var> {
        let [_, h, w, _] = shape;
        let (ch, cw) = (self.height, self.width);
        if h < ch || w < cw {
            return self.infer(ctx, x, shape);
        }
        // Offsets uniform over the places the window fits.
        let mut offset = |room: usize| ((rng.next_f32() * (room + 1) as f32) as usize).min(room);
        let (top, left) = (offset(h - ch), offset(w - cw));
        crate::ops::shape::crop2d(ctx.tape, x, ((top, h - ch - top), (left, w - cw - left)))
    }
    fn output_shape(&self, input: Vec<usize>) -> Vec<usize> {
        vec![self.height, self.width, input[2]]
    }
    fn infer(&self, ctx: &mut Ctx, x: Var, _shape: [usize; 4]) -> Result<Var> {
        ops::resize(ctx.tape, x, [self.height, self.width], true, Fit::Crop)
    }
}

impl Augmentation for RandomFlipConfig {
    const KIND: &'static str = "RandomFlip";
    fn seed(&self) -> Option<u64> {
        self.seed
    }
    fn to_json(&self) -> Json {
        RandomFlipConfig::to_json(self)
    }
    fn check(&self) -> Result<()> {
        Ok(())
    }
    fn apply(&self, ctx: &mut Ctx, x: Var, [n, ..]: [usize; 4], rng: &mut Rng) -> Result<Var> {
        let (h, v) = match self.mode {
            FlipMode::Horizontal => (true, false),
            FlipMode::Vertical => (false, true),
            FlipMode::HorizontalAndVertical => (true, true),
        };
        // Each allowed axis flipped with probability ½, decided per image and axis.
        let flips = (0..n).map(|_| (h && rng.next_f32() < 0.5, v && rng.next_f32() < 0.5)).collect();
        ops::flip(ctx.tape, x, flips)
    }
}

impl Augmentation for RandomTranslationConfig {
    const KIND: &'static str = "RandomTranslation";
    fn seed(&self) -> Option<u64> {
        self.seed
    }
    fn to_json(&self) -> Json {
        RandomTranslationConfig::to_json(self)
    }
    fn check(&self) -> Result<()> {
        self.height_factor.check("heightFactor", -1.0, 1.0)?;
        self.width_factor.check("widthFactor", -1.0, 1.0)?;
        Ok(())
    }
    fn apply(&self, ctx: &mut Ctx, x: Var, [n, h, w, _]: [usize; 4], rng: &mut Rng) -> Result<Var> {
        let dy = draw(rng, n, self.height_factor);
        let dx = draw(rng, n, self.width_factor);
        // The output at (x, y) reads the input at (x − dx·w, y − dy·h).
        let maps = dy.iter().zip(&dx).map(|(dy, dx)| [1.0, 0.0, -dx * w as f32, 0.0, 1.0, -dy * h as f32]).collect();
        ops::affine_transform(ctx.tape, x, [h, w], maps, resample(self.fill_mode, self.interpolation, self.fill_value))
    }
}

/// The map that rotates an image `h × w` counter-clockwise by `angle` radians about its
/// centre: the output at p reads the input at R(angle)·(p − centre) + centre, with y down.
pub fn rotation(angle: f32, h: usize, w: usize) -> Affine {
    let (s, c) = angle.sin_cos();
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    [c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy]
}

impl Augmentation for RandomRotationConfig {
    const KIND: &'static str = "RandomRotation";
    fn seed(&self) -> Option<u64> {
        self.seed
    }
    fn to_json(&self) -> Json {
        RandomRotationConfig::to_json(self)
    }
    fn check(&self) -> Result<()> {
        self.factor.check("factor", -1.0, 1.0).map(|_| ())
    }
    fn apply(&self, ctx: &mut Ctx, x: Var, [n, h, w, _]: [usize; 4], rng: &mut Rng) -> Result<Var> {
        let turns = draw(rng, n, self.factor);
        let maps = turns.iter().map(|t| rotation(t * std::f32::consts::TAU, h, w)).collect();
        ops::affine_transform(ctx.tape, x, [h, w], maps, resample(self.fill_mode, self.interpolation, self.fill_value))
    }
}

/// The map that zooms an image by `zx` across and `zy` down about its centre (a zoom above 1
/// reads a larger area: the image shrinks).
pub fn zoom(zx: f32, zy: f32, h: usize, w: usize) -> Affine {
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    [zx, 0.0, cx * (1.0 - zx), 0.0, zy, cy * (1.0 - zy)]
}

impl Augmentation for RandomZoomConfig {
    const KIND: &'static str = "RandomZoom";
    fn seed(&self) -> Option<u64> {
        self.seed
    }
    fn to_json(&self) -> Json {
        RandomZoomConfig::to_json(self)
    }
    fn check(&self) -> Result<()> {
        // Keras' bounds, (-1, 1]: a zoom of 1 + f stays positive.
        for (option, f) in [("heightFactor", Some(self.height_factor)), ("widthFactor", self.width_factor)] {
            if let Some(f) = f {
                f.check(option, -1.0, 1.0)?;
                if f.lower <= -1.0 {
                    return Err(Error::argument(format!(
                        "option '{option}' must lie in (-1, 1], got [{}, {}]",
                        f.lower, f.upper
                    )));
                }
            }
        }
        Ok(())
    }
    fn apply(&self, ctx: &mut Ctx, x: Var, [n, h, w, _]: [usize; 4], rng: &mut Rng) -> Result<Var> {
        let zy = draw(rng, n, self.height_factor);
        let zx = match self.width_factor {
            Some(f) => draw(rng, n, f),
            None => zy.clone(),
        };
        let maps = zx.iter().zip(&zy).map(|(zx, zy)| zoom(1.0 + zx, 1.0 + zy, h, w)).collect();
        ops::affine_transform(ctx.tape, x, [h, w], maps, resample(self.fill_mode, self.interpolation, self.fill_value))
    }
}

impl Augmentation for RandomBrightnessConfig {
    const KIND: &'static str = "RandomBrightness";
    fn seed(&self) -> Option<u64> {
        self.seed
    }
    fn to_json(&self) -> Json {
        RandomBrightnessConfig::to_json(self)
    }
    fn check(&self) -> Result<()> {
        self.factor.check("factor", -1.0, 1.0).map(|_| ())
    }
    fn apply(&self, ctx: &mut Ctx, x: Var, [n, ..]: [usize; 4], rng: &mut Rng) -> Result<Var> {
        let ValueRange(low, high) = self.value_range;
        let deltas = draw(rng, n, self.factor).into_iter().map(|d| d * (high - low)).collect();
        ops::adjust_brightness(ctx.tape, x, deltas, (low, high))
    }
}

impl Augmentation for RandomContrastConfig {
    const KIND: &'static str = "RandomContrast";
    fn seed(&self) -> Option<u64> {
        self.seed
    }
    fn to_json(&self) -> Json {
        RandomContrastConfig::to_json(self)
    }
    fn check(&self) -> Result<()> {
        let ContrastFactor { lower, upper } = self.factor;
        if !(0.0..=1.0).contains(&lower) || !(0.0..=1.0).contains(&upper) {
            return Err(Error::argument(format!(
                "option 'factor' must be a number in [0, 1] or a pair of them, got [{lower}, {upper}]"
            )));
        }
        Ok(())
    }
    fn apply(&self, ctx: &mut Ctx, x: Var, [n, ..]: [usize; 4], rng: &mut Rng) -> Result<Var> {
        let ValueRange(low, high) = self.value_range;
        let ContrastFactor { lower, upper } = self.factor;
        let factors = draw(rng, n, Factor { lower: 1.0 - lower, upper: 1.0 + upper });
        ops::adjust_contrast(ctx.tape, x, factors, (low, high))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::Tape;
    use crate::nn::registry;
    use crate::{parallel, Tensor};
    use serde_json::json;

    /// `[n, h, w, c]` images with distinct values.
    fn images(n: usize, h: usize, w: usize, c: usize) -> Tensor {
        Tensor::new((0..n * h * w * c).map(|v| (v * 7 % 251) as f32).collect(), &[n, h, w, c]).unwrap()
    }

    /// The layer of `class` with `options`, run on `x` in training or inference mode, drawing
    /// from a model generator seeded 11.
    fn run(layer: &mut dyn Layer, x: &Tensor, training: bool) -> Tensor {
        let mut tape = Tape::new();
        let v = tape.leaf(x.clone(), false);
        let mut rng = Rng::new(11);
        let mut ctx = Ctx { tape: &mut tape, training, rng: &mut rng, logits: false };
        let y = layer.forward(&mut ctx, &[v], &[]).unwrap();
        layer.end_step(true);
        tape.value(y).clone()
    }

    fn layer(class: &str, options: Json) -> Box<dyn Layer> {
        let mut l = registry::create(class, &options).unwrap();
        l.output_shape(&[&[4, 4, 1]]).unwrap();
        l.set_name("aug".into());
        l
    }

    /// At (row, col, channel) of image `i` of `[n, h, w, c]`.
    fn at(t: &Tensor, i: usize, row: usize, col: usize, ch: usize) -> f32 {
        let [_, h, w, c] = [t.shape()[0], t.shape()[1], t.shape()[2], t.shape()[3]];
        t.data()[((i * h + row) * w + col) * c + ch]
    }

    #[test]
    fn inference_passes_images_through_and_training_changes_them() {
        let x = images(8, 6, 6, 3);
        for (class, options) in [
            ("RandomFlip", json!({})),
            ("RandomTranslation", json!({ "heightFactor": 0.3, "widthFactor": 0.3 })),
            ("RandomRotation", json!({ "factor": 0.2 })),
            ("RandomZoom", json!({ "heightFactor": 0.3 })),
            ("RandomBrightness", json!({ "factor": 0.3 })),
            ("RandomContrast", json!({ "factor": 0.5 })),
        ] {
            let mut l = layer(class, options);
            assert_eq!(run(l.as_mut(), &x, false), x, "{class} in inference");
            assert_ne!(run(l.as_mut(), &x, true), x, "{class} in training");
        }
        // Rescaling applies in both modes.
        let mut r = layer("Rescaling", json!({ "scale": 0.5, "offset": -1.0 }));
        let want = x.map(|v| v * 0.5 - 1.0);
        assert_eq!(run(r.as_mut(), &x, false), want);
        assert_eq!(run(r.as_mut(), &x, true), want);
    }

    #[test]
    fn random_crop_cuts_one_window_per_batch_in_training_and_resizes_in_inference() {
        let x = images(4, 6, 7, 2);
        let mut l = registry::create("RandomCrop", &json!({ "height": 3, "width": 4, "seed": 5 })).unwrap();
        assert_eq!(l.output_shape(&[&[6, 7, 2]]).unwrap(), vec![3, 4, 2]);
        let mut windows = std::collections::HashSet::new();
        for _ in 0..12 {
            let y = run(l.as_mut(), &x, true);
            assert_eq!(y.shape(), &[4, 3, 4, 2]);
            // Find the window's place from the first value, and check every image against it.
            let first = at(&y, 0, 0, 0, 0);
            let (top, left) = itertools(4, 4, 1)
                .map(|(r, c, _)| (r, c))
                .find(|&(r, c)| at(&x, 0, r, c, 0) == first)
                .expect("the crop's first value is at a place the window fits");
            windows.insert((top, left));
            for (i, (row, col, ch)) in (0..4).flat_map(|i| itertools(3, 4, 2).map(move |p| (i, p))) {
                assert_eq!(at(&y, i, row, col, ch), at(&x, i, top + row, left + col, ch));
            }
        }
        assert!(windows.len() > 3, "the window moves: {windows:?}");
        // Inference, and training on an image smaller than the window, resize without
        // stretching, as `Resizing` with `cropToAspectRatio` does.
        let mut resizing =
            registry::create("Resizing", &json!({ "height": 3, "width": 4, "cropToAspectRatio": true })).unwrap();
        assert_eq!(run(l.as_mut(), &x, false), run(resizing.as_mut(), &x, false));
        let small = images(2, 2, 9, 1);
        let mut wide =
            registry::create("Resizing", &json!({ "height": 3, "width": 4, "cropToAspectRatio": true })).unwrap();
        assert_eq!(run(l.as_mut(), &small, true), run(wide.as_mut(), &small, true));
    }

    #[test]
    fn resizing_applies_in_both_modes_with_its_declared_defaults() {
        let mut l = registry::create("Resizing", &json!({ "height": 4, "width": 2 })).unwrap();
        assert_eq!(
            l.config(),
            json!({
                "height": 4, "width": 2, "interpolation": "bilinear", "cropToAspectRatio": false,
                "padToAspectRatio": false, "fillMode": "constant", "fillValue": 0.0
            })
        );
        assert_eq!(l.output_shape(&[&[8, 8, 3]]).unwrap(), vec![4, 2, 3]);
        let x = images(2, 8, 8, 3);
        let (a, b) = (run(l.as_mut(), &x, false), run(l.as_mut(), &x, true));
        assert_eq!(a.shape(), &[2, 4, 2, 3]);
        assert_eq!(a, b);
        // With half-pixel centres, 8 rows to 4 read rows 2r and 2r + 1 equally, and 8 columns
        // to 2 read columns 4c + 1 and 4c + 2 equally.
        for (row, col, ch) in itertools(4, 2, 3) {
            let (r, c) = (2 * row, 4 * col + 1);
            let want = 0.25
                * (at(&x, 0, r, c, ch)
                    + at(&x, 0, r, c + 1, ch)
                    + at(&x, 0, r + 1, c, ch)
                    + at(&x, 0, r + 1, c + 1, ch));
            assert!((at(&a, 0, row, col, ch) - want).abs() < 1e-3);
        }
    }

    #[test]
    fn resizing_refuses_both_aspect_ratio_flags_and_fill_modes_other_than_constant() {
        let both = json!({ "height": 4, "width": 4, "cropToAspectRatio": true, "padToAspectRatio": true });
        let e = registry::create("Resizing", &both).err().unwrap();
        assert!(e.message.contains("only one of 'cropToAspectRatio' and 'padToAspectRatio'"), "{}", e.message);
        let reflect = json!({ "height": 4, "width": 4, "padToAspectRatio": true, "fillMode": "reflect" });
        let e = registry::create("Resizing", &reflect).err().unwrap();
        assert!(e.message.contains("option 'fillMode': Resizing pads with 'constant' only, got 'reflect'"), "{}", e.message);
        // Padded: 8x4 into 4x4 pads to 8x8, two columns of the fill value on each side, which
        // the outer output columns read alone and the inner ones not at all (the image's
        // values are all at least 0).
        let options = json!({ "height": 4, "width": 4, "padToAspectRatio": true, "fillValue": -1.0 });
        let mut l = registry::create("Resizing", &options).unwrap();
        let y = run(l.as_mut(), &images(1, 8, 4, 1), false);
        for row in 0..4 {
            assert_eq!([at(&y, 0, row, 0, 0), at(&y, 0, row, 3, 0)], [-1.0, -1.0], "row {row}");
            assert!(at(&y, 0, row, 1, 0) >= 0.0 && at(&y, 0, row, 2, 0) >= 0.0, "row {row}");
        }
    }

    #[test]
    fn fixed_transforms_match_a_straightforward_reference() {
        let (n, s, c) = (1, 5, 2);
        let x = images(n, s, s, c);
        let constant = Resample { sampling: Sampling::Bilinear, fill: FillMode::Constant, fill_value: -7.0 };
        let resampled = |map: Affine, r: Resample| {
            let mut tape = Tape::new();
            let v = tape.leaf(x.clone(), false);
            let y = ops::affine_transform(&mut tape, v, [s, s], vec![map], r).unwrap();
            tape.value(y).clone()
        };
        // A quarter turn counter-clockwise: the output's (row, col) is the input's
        // (col, s − 1 − row), as numpy's rot90.
        let y = resampled(rotation(std::f32::consts::FRAC_PI_2, s, s), constant);
        for (row, col, ch) in itertools(s, s, c) {
            assert!((at(&y, 0, row, col, ch) - at(&x, 0, col, s - 1 - row, ch)).abs() < 1e-3, "{row} {col}");
        }
        // A zoom of 2 about the centre (2, 2) reads every other pixel; reads past the edge
        // take the fill value.
        let y = resampled(zoom(2.0, 2.0, s, s), constant);
        for (row, col, ch) in itertools(s, s, c) {
            let (sr, sc) = (2 * row as i64 - 2, 2 * col as i64 - 2);
            let want = if (0..s as i64).contains(&sr) && (0..s as i64).contains(&sc) {
                at(&x, 0, sr as usize, sc as usize, ch)
            } else {
                -7.0
            };
            assert!(
                (at(&y, 0, row, col, ch) - want).abs() < 1e-3,
                "{row} {col}: {} vs {want}",
                at(&y, 0, row, col, ch)
            );
        }
        // Half a pixel to the right, reflected at the edge: the mean of each pixel and its
        // left neighbour, column 0 reading the mirror of column 0 (itself).
        let reflect = Resample { sampling: Sampling::Bilinear, fill: FillMode::Reflect, fill_value: 0.0 };
        let y = resampled([1.0, 0.0, -0.5, 0.0, 1.0, 0.0], reflect);
        for (row, col, ch) in itertools(s, s, c) {
            let left = at(&x, 0, row, col.saturating_sub(1), ch);
            assert!((at(&y, 0, row, col, ch) - 0.5 * (left + at(&x, 0, row, col, ch))).abs() < 1e-3);
        }
    }

    fn itertools(h: usize, w: usize, c: usize) -> impl Iterator<Item = (usize, usize, usize)> {
        (0..h).flat_map(move |r| (0..w).flat_map(move |col| (0..c).map(move |ch| (r, col, ch))))
    }

    #[test]
    fn flips_brightness_and_contrast_do_what_their_draws_say() {
        let x = images(16, 3, 4, 2);
        let y = run(layer("RandomFlip", json!({ "mode": "horizontal", "seed": 5 })).as_mut(), &x, true);
        let mut flipped = 0;
        for i in 0..16 {
            let mirrored = itertools(3, 4, 2).all(|(r, col, ch)| at(&y, i, r, col, ch) == at(&x, i, r, 3 - col, ch));
            let same = itertools(3, 4, 2).all(|(r, col, ch)| at(&y, i, r, col, ch) == at(&x, i, r, col, ch));
            assert!(mirrored ^ same, "image {i} is either mirrored or kept");
            flipped += mirrored as usize;
        }
        assert!((3..=13).contains(&flipped), "{flipped} of 16 flipped");

        let y =
            run(layer("RandomBrightness", json!({ "factor": [0.1, 0.1], "valueRange": [0, 255] })).as_mut(), &x, true);
        assert_eq!(y, x.map(|v| (v + 25.5).min(255.0)));

        // Contrast factors drawn from [1 − 0.5, 1 + 0.5]: each image's channels spread about
        // their means by one factor in that range, the same for every channel of the image.
        let y = run(layer("RandomContrast", json!({ "factor": 0.5, "valueRange": [-1000, 1000] })).as_mut(), &x, true);
        let mean = |t: &Tensor, i: usize, ch: usize| {
            itertools(3, 4, 1).map(|(r, col, _)| at(t, i, r, col, ch)).sum::<f32>() / 12.0
        };
        let mut factors = Vec::new();
        for i in 0..16 {
            let (m, f) =
                (mean(&x, i, 0), (at(&y, i, 0, 0, 0) - mean(&y, i, 0)) / (at(&x, i, 0, 0, 0) - mean(&x, i, 0)));
            assert!((0.5..=1.5).contains(&f), "image {i}: factor {f}");
            for (r, col, ch) in itertools(3, 4, 2) {
                let m = if ch == 0 { m } else { mean(&x, i, ch) };
                assert!((at(&y, i, r, col, ch) - ((at(&x, i, r, col, ch) - m) * f + m)).abs() < 1e-2, "image {i}");
            }
            factors.push(f);
        }
        assert!(factors.iter().any(|&f| (f - factors[0]).abs() > 1e-3), "one factor per image");
    }

    #[test]
    fn a_seed_fixes_the_draws_whatever_the_threads_and_a_failed_step_draws_nothing() {
        let x = images(6, 8, 8, 3);
        let options = json!({ "factor": 0.25, "seed": 42, "fillMode": "wrap" });
        let pooled = run(layer("RandomRotation", options.clone()).as_mut(), &x, true);
        let serial = parallel::serially(|| run(layer("RandomRotation", options.clone()).as_mut(), &x, true));
        assert_eq!(pooled, serial);
        // Another seed, other draws; the model's generator is not used when seeded.
        let other = run(layer("RandomRotation", json!({ "factor": 0.25, "seed": 43 })).as_mut(), &x, true);
        assert_ne!(pooled, other);

        // A step that does not commit leaves the layer's generator where it was.
        let mut l = layer("RandomRotation", options.clone());
        let mut tape = Tape::new();
        let v = tape.leaf(x.clone(), false);
        let mut rng = Rng::new(11);
        let mut ctx = Ctx { tape: &mut tape, training: true, rng: &mut rng, logits: false };
        l.forward(&mut ctx, &[v], &[]).unwrap();
        l.end_step(false);
        assert_eq!(run(l.as_mut(), &x, true), pooled);
        // Committed steps move on.
        assert_ne!(run(l.as_mut(), &x, true), pooled);
    }

    #[test]
    fn bad_options_and_inputs_are_typed_errors() {
        let err = |class: &str, v: Json| registry::create(class, &v).err().unwrap().message;
        assert!(err("RandomTranslation", json!({ "heightFactor": 1.5, "widthFactor": 0 }))
            .contains("option 'heightFactor' must lie in [-1, 1], got [-1.5, 1.5]"));
        assert!(err("RandomTranslation", json!({ "heightFactor": 0.1 })).contains("option 'widthFactor' is required"));
        assert!(err("RandomRotation", json!({ "factor": 0.1, "fillMode": "mirror" })).contains("'reflect', 'wrap'"));
        assert!(err("RandomZoom", json!({ "heightFactor": [-1.5, 0.2] })).contains("must lie in [-1,"));
        assert!(err("RandomZoom", json!({ "heightFactor": 0.1, "widthFactor": -1 }))
            .contains("'widthFactor' must lie in (-1, 1]"));
        assert!(err("RandomZoom", json!({ "heightFactor": 3 })).contains("'heightFactor' must lie in [-1, 1]"));
        assert!(err("RandomRotation", json!({ "factor": 1e30 })).contains("'factor' must lie in [-1, 1]"));
        assert!(err("RandomBrightness", json!({ "factor": 0.1, "valueRange": [1, 0] })).contains("low < high"));
        assert!(err("RandomContrast", json!({ "factor": 1.5 })).contains("a number in [0, 1]"));
        assert!(err("RandomFlip", json!({ "mode": "diagonal" })).contains("'horizontal', 'vertical'"));
        assert!(err("RandomFlip", json!({ "seed": -1 })).contains("option 'seed' must be a non-negative integer"));
        assert!(err("Rescaling", json!({})).contains("option 'scale' is required"));
        assert!(err("Resizing", json!({ "height": 0, "width": 3 })).contains("must be at least 1, got 0 and 3"));
        assert!(err("Resizing", json!({ "height": 2, "width": 3, "interpolation": "bicubic" }))
            .contains("'nearest' or 'bilinear'"));
        assert!(err("RandomCrop", json!({ "height": 2 })).contains("option 'width' is required"));
        let l = registry::create("RandomFlip", &json!({})).unwrap();
        assert!(l.output_shape(&[&[28, 28]]).unwrap_err().message.contains("[batch, height, width, channels]"));
        assert!(l.output_shape(&[&[0, 4, 1]]).is_err());
    }
}
