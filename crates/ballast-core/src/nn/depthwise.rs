//! Keras `DepthwiseConv2D` and `SeparableConv2D` on NHWC input.
//!
//! A depthwise convolution filters each input channel on its own with `depthMultiplier`
//! filters (kernel `[kh, kw, in, multiplier]`, output channel `c*multiplier + m`); a separable
//! convolution follows it with a pointwise 1×1 convolution (kernel `[1, 1, in*multiplier,
//! filters]`) and then the bias, as in Keras (Chollet, "Xception", 2017; Howard et al.,
//! "MobileNets", 2017).

use super::config::{layer_config, Json, Pair};
use super::{batch_shape, layer_common, one_input, Activation, Ctx, Initializer, Layer, LayerKind, Param, Regularizer};
use crate::autograd::Var;
use crate::error::Error;
use crate::kernels::conv::{Conv2dGeometry, ConvOptions, Padding};
use crate::ops;
use crate::rng::Rng;
use crate::Result;

layer_config! {
    pub struct DepthwiseConv2dConfig {
        kernel_size "kernelSize": Pair,
        strides "strides": Pair = Pair(1, 1),
        padding "padding": Padding = Padding::Valid,
        /// Filters per input channel: the output has `in * depthMultiplier` channels.
        depth_multiplier "depthMultiplier": usize = 1,
        dilation_rate "dilationRate": Pair = Pair(1, 1),
        activation "activation": Activation = Activation::Linear,
        use_bias "useBias": bool = true,
        depthwise_initializer "depthwiseInitializer": Initializer = Initializer::GlorotUniform,
        bias_initializer "biasInitializer": Initializer = Initializer::Zeros,
        depthwise_regularizer "depthwiseRegularizer": Option<Regularizer> = None,
        bias_regularizer "biasRegularizer": Option<Regularizer> = None,
    }
}

layer_config! {
    pub struct SeparableConv2dConfig {
        filters "filters": usize,
        kernel_size "kernelSize": Pair,
        strides "strides": Pair = Pair(1, 1),
        padding "padding": Padding = Padding::Valid,
        dilation_rate "dilationRate": Pair = Pair(1, 1),
        depth_multiplier "depthMultiplier": usize = 1,
        activation "activation": Activation = Activation::Linear,
        use_bias "useBias": bool = true,
        depthwise_initializer "depthwiseInitializer": Initializer = Initializer::GlorotUniform,
        pointwise_initializer "pointwiseInitializer": Initializer = Initializer::GlorotUniform,
        bias_initializer "biasInitializer": Initializer = Initializer::Zeros,
        depthwise_regularizer "depthwiseRegularizer": Option<Regularizer> = None,
        pointwise_regularizer "pointwiseRegularizer": Option<Regularizer> = None,
        bias_regularizer "biasRegularizer": Option<Regularizer> = None,
    }
}

impl DepthwiseConv2dConfig {
    pub fn new(kernel_size: (usize, usize)) -> Self {
        DepthwiseConv2dConfig::from_json(&serde_json::json!({ "kernelSize": [kernel_size.0, kernel_size.1] }))
            .expect("the defaults are valid")
    }
}

impl SeparableConv2dConfig {
    pub fn new(filters: usize, kernel_size: (usize, usize)) -> Self {
        let c = serde_json::json!({ "filters": filters, "kernelSize": [kernel_size.0, kernel_size.1] });
        SeparableConv2dConfig::from_json(&c).expect("the defaults are valid")
    }
}

pub(super) const KINDS: &[LayerKind] = &[
    LayerKind {
        class_name: "DepthwiseConv2D",
        default_name: "depthwise_conv2d",
        make: |c| Ok(Box::new(DepthwiseConv2d::new(DepthwiseConv2dConfig::from_json(c)?)?)),
    },
    LayerKind {
        class_name: "SeparableConv2D",
        default_name: "separable_conv2d",
        make: |c| Ok(Box::new(SeparableConv2d::new(SeparableConv2dConfig::from_json(c)?)?)),
    },
];

/// The depthwise part both layers share: its options checked, its geometry and its kernel.
#[derive(Clone, Copy)]
struct Depthwise {
    /// The op named in geometry errors.
    op: &'static str,
    kernel_size: Pair,
    multiplier: usize,
    options: ConvOptions,
}

impl Depthwise {
    fn new(
        op: &'static str,
        kernel_size: Pair,
        multiplier: usize,
        strides: Pair,
        padding: Padding,
        dilation: Pair,
    ) -> Result<Self> {
        if multiplier == 0 {
            return Err(Error::argument("option 'depthMultiplier' must be at least 1"));
        }
        let options = ConvOptions::new(strides.tuple(), padding).dilation(dilation.tuple());
        options.check_strides_and_dilation()?;
        Ok(Depthwise { op, kernel_size, multiplier, options })
    }

    /// The depthwise output shape for one example `[h, w, c]`.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.len() != 3 {
            return Err(Error::shape(format!(
                "expects input [batch, height, width, channels], got {}",
                batch_shape(input)
            )));
        }
        let out_c = input[2].checked_mul(self.multiplier).ok_or_else(|| Error::shape("too many output channels"))?;
        let g = Conv2dGeometry::with_options(
            self.op,
            &[1, input[0], input[1], input[2]],
            self.kernel_size.tuple(),
            out_c,
            ConvOptions { groups: input[2], ..self.options },
        )?;
        Ok(g.output_shape()[1..].to_vec())
    }

    /// `[kh, kw, in, multiplier]`, with Keras' fans for that shape.
    fn kernel(&self, layer: &str, in_c: usize, init: Initializer, rng: &mut Rng) -> Result<Param> {
        let Pair(kh, kw) = self.kernel_size;
        let fans = (kh * kw * in_c, kh * kw * self.multiplier);
        Ok(Param::new(layer, "depthwise_kernel", init.init(&[kh, kw, in_c, self.multiplier], fans, rng)?))
    }
}

#[derive(Clone)]
pub struct DepthwiseConv2d {
    name: String,
    trainable: bool,
    pub config: DepthwiseConv2dConfig,
    depthwise: Depthwise,
    weights: Vec<Param>,
}

impl DepthwiseConv2d {
    pub fn new(config: DepthwiseConv2dConfig) -> Result<Self> {
        let c = config;
        let depthwise = Depthwise::new(
            "depthwise_conv2d",
            c.kernel_size,
            c.depth_multiplier,
            c.strides,
            c.padding,
            c.dilation_rate,
        )?;
        Ok(DepthwiseConv2d { name: String::new(), trainable: true, config, depthwise, weights: Vec::new() })
    }
}

impl Layer for DepthwiseConv2d {
    layer_common!("DepthwiseConv2D");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        self.depthwise.output_shape(one_input(inputs)?)
    }

    fn build(&mut self, inputs: &[&[usize]], rng: &mut Rng) -> Result<()> {
        let c = self.config;
        let in_c = inputs[0][2];
        let kernel = self.depthwise.kernel(&self.name, in_c, c.depthwise_initializer, rng)?;
        let fans = kernel_fans(&kernel);
        self.weights = vec![kernel];
        if c.use_bias {
            let bias = c.bias_initializer.init(&[in_c * c.depth_multiplier], fans, rng)?;
            self.weights.push(Param::new(&self.name, "bias", bias));
        }
        Ok(())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], params: &[Var]) -> Result<Var> {
        let c = self.config;
        let relu = c.activation == Activation::Relu;
        let y = ops::conv::depthwise_conv2d(
            ctx.tape,
            inputs[0],
            params[0],
            params.get(1).copied(),
            self.depthwise.options,
            relu,
        )?;
        if relu {
            return Ok(y);
        }
        c.activation.apply(ctx, y)
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.iter().collect()
    }
    fn regularizers(&self) -> Vec<Option<Regularizer>> {
        [self.config.depthwise_regularizer, self.config.bias_regularizer].into_iter().take(self.weights.len()).collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.iter_mut().collect()
    }
    fn ends_in_softmax(&self) -> bool {
        self.config.activation == Activation::Softmax
    }
}

/// Keras' fans of a kernel `[kh, kw, in, out]` (for initializers of the bias, which ignore them).
fn kernel_fans(p: &Param) -> (usize, usize) {
    let s = p.value.shape();
    (s[0] * s[1] * s[2], s[0] * s[1] * s[3])
}

#[derive(Clone)]
pub struct SeparableConv2d {
    name: String,
    trainable: bool,
    pub config: SeparableConv2dConfig,
    depthwise: Depthwise,
    weights: Vec<Param>,
}

impl SeparableConv2d {
    pub fn new(config: SeparableConv2dConfig) -> Result<Self> {
        let c = config;
        if c.filters == 0 {
            return Err(Error::argument("filters must be at least 1"));
        }
        let depthwise = Depthwise::new(
            "separable_conv2d",
            c.kernel_size,
            c.depth_multiplier,
            c.strides,
            c.padding,
            c.dilation_rate,
        )?;
        Ok(SeparableConv2d { name: String::new(), trainable: true, config, depthwise, weights: Vec::new() })
    }
}

impl Layer for SeparableConv2d {
    layer_common!("SeparableConv2D");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let mut shape = self.depthwise.output_shape(one_input(inputs)?)?;
        shape[2] = self.config.filters;
        Ok(shape)
    }

    fn build(&mut self, inputs: &[&[usize]], rng: &mut Rng) -> Result<()> {
        let c = self.config;
        let in_c = inputs[0][2];
        let mid = in_c * c.depth_multiplier;
        let depthwise = self.depthwise.kernel(&self.name, in_c, c.depthwise_initializer, rng)?;
        let pointwise = c.pointwise_initializer.init(&[1, 1, mid, c.filters], (mid, c.filters), rng)?;
        self.weights = vec![depthwise, Param::new(&self.name, "pointwise_kernel", pointwise)];
        if c.use_bias {
            let bias = c.bias_initializer.init(&[c.filters], (mid, c.filters), rng)?;
            self.weights.push(Param::new(&self.name, "bias", bias));
        }
        Ok(())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], params: &[Var]) -> Result<Var> {
        let c = self.config;
        let relu = c.activation == Activation::Relu;
        let h = ops::conv::depthwise_conv2d(ctx.tape, inputs[0], params[0], None, self.depthwise.options, false)?;
        // The pointwise step is a 1x1 convolution: one GEMM over the pixels.
        let y = ops::conv::conv2d_with(ctx.tape, h, params[1], params.get(2).copied(), ConvOptions::default(), relu)?;
        if relu {
            return Ok(y);
        }
        c.activation.apply(ctx, y)
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.iter().collect()
    }
    fn regularizers(&self) -> Vec<Option<Regularizer>> {
        let c = &self.config;
        [c.depthwise_regularizer, c.pointwise_regularizer, c.bias_regularizer]
            .into_iter()
            .take(self.weights.len())
            .collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.iter_mut().collect()
    }
    fn ends_in_softmax(&self) -> bool {
        self.config.activation == Activation::Softmax
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::check_layer;
    use super::super::{registry, Conv2d, Conv2dConfig};
    use super::*;
    use crate::autograd::gradcheck::{normal, Check};
    use crate::graph::Graph;
    use crate::model::{Loss, Model};
    use crate::optim::Adam;
    use crate::ErrorKind;
    use serde_json::json;

    fn layer(class: &str, options: Json) -> Box<dyn Layer> {
        registry::create(class, &options).unwrap()
    }

    #[test]
    fn the_conv_layers_pass_a_gradient_check() {
        let check = Check::default();
        let dw =
            json!({ "kernelSize": 3, "strides": 2, "padding": "same", "depthMultiplier": 2, "activation": "tanh" });
        check_layer("dw", layer("DepthwiseConv2D", dw), &[2, 5, 6, 3], true, &check);
        let dw = json!({ "kernelSize": [2, 3], "dilationRate": [2, 1], "useBias": false });
        check_layer("dw_dilated", layer("DepthwiseConv2D", dw), &[2, 6, 5, 4], true, &check);
        let sep =
            json!({ "filters": 4, "kernelSize": 3, "padding": "same", "depthMultiplier": 2, "activation": "sigmoid" });
        check_layer("sep", layer("SeparableConv2D", sep), &[2, 5, 5, 3], true, &check);
        let sep = json!({ "filters": 3, "kernelSize": 3, "dilationRate": 2 });
        check_layer("sep_dilated", layer("SeparableConv2D", sep), &[2, 6, 6, 2], true, &check);
        let conv = json!({ "filters": 4, "kernelSize": 3, "padding": "same", "dilationRate": [2, 2] });
        check_layer("conv_dilated", layer("Conv2D", conv), &[2, 6, 6, 2], true, &check);
        let conv = json!({ "filters": 6, "kernelSize": 3, "padding": "same", "groups": 3, "activation": "tanh" });
        check_layer("conv_groups", layer("Conv2D", conv), &[2, 5, 5, 6], true, &check);
    }

    #[test]
    fn resolved_configs_follow_keras_defaults() {
        let dw = layer("DepthwiseConv2D", json!({ "kernelSize": 3 }));
        assert_eq!(
            dw.config(),
            json!({ "kernelSize": [3, 3], "strides": [1, 1], "padding": "valid", "depthMultiplier": 1,
                    "dilationRate": [1, 1], "activation": "linear", "useBias": true,
                    "depthwiseInitializer": "glorotUniform", "biasInitializer": "zeros",
                    "depthwiseRegularizer": null, "biasRegularizer": null })
        );
        let sep = layer("SeparableConv2D", json!({ "filters": 8, "kernelSize": [3, 5] }));
        assert_eq!(
            sep.config(),
            json!({ "filters": 8, "kernelSize": [3, 5], "strides": [1, 1], "padding": "valid", "dilationRate": [1, 1],
                    "depthMultiplier": 1, "activation": "linear", "useBias": true,
                    "depthwiseInitializer": "glorotUniform", "pointwiseInitializer": "glorotUniform",
                    "biasInitializer": "zeros", "depthwiseRegularizer": null, "pointwiseRegularizer": null,
                    "biasRegularizer": null })
        );
        let conv = layer("Conv2D", json!({ "filters": 2, "kernelSize": 3 })).config();
        assert_eq!((&conv["dilationRate"], &conv["groups"]), (&json!([1, 1]), &json!(1)));
        assert_eq!(DepthwiseConv2dConfig::new((3, 3)).to_json(), dw.config());
        assert_eq!(SeparableConv2dConfig::new(8, (3, 5)).to_json(), sep.config());
        assert_eq!(Conv2d::new(Conv2dConfig::new(2, (3, 3))).unwrap().config(), conv);
    }

    #[test]
    fn weights_have_keras_names_and_shapes() {
        let rng = &mut Rng::new(0);
        let mut g = Graph::new();
        let x = g.add(layer("InputLayer", json!({ "shape": [8, 8, 4] })), &[], rng).unwrap();
        let a = g.add(layer("DepthwiseConv2D", json!({ "kernelSize": 3, "depthMultiplier": 2 })), &[x], rng).unwrap();
        let sep = json!({ "filters": 5, "kernelSize": 3, "strides": 2, "padding": "same" });
        let b = g.add(layer("SeparableConv2D", sep), &[a], rng).unwrap();
        let e = registry::create("Conv2D", &json!({ "filters": 4, "kernelSize": 3, "groups": 5 })).err().unwrap();
        assert_eq!(e.message, "Conv2D: option 'groups' (5) must be at least 1 and divide filters (4)");
        let c = g.add(layer("Conv2D", json!({ "filters": 10, "kernelSize": 1, "groups": 5 })), &[b], rng).unwrap();
        assert_eq!((g.nodes()[a].shape.as_slice(), g.nodes()[b].shape.as_slice()), (&[6, 6, 8][..], &[3, 3, 5][..]));
        assert_eq!(g.nodes()[c].shape, [3, 3, 10]);
        let weights: Vec<(String, Vec<usize>)> =
            g.weights().iter().map(|p| (p.name.clone(), p.value.shape().to_vec())).collect();
        let want = [
            ("depthwise_conv2d/depthwise_kernel", vec![3, 3, 4, 2]),
            ("depthwise_conv2d/bias", vec![8]),
            ("separable_conv2d/depthwise_kernel", vec![3, 3, 8, 1]),
            ("separable_conv2d/pointwise_kernel", vec![1, 1, 8, 5]),
            ("separable_conv2d/bias", vec![5]),
            ("conv2d/kernel", vec![1, 1, 1, 10]),
            ("conv2d/bias", vec![10]),
        ];
        let want: Vec<(String, Vec<usize>)> = want.into_iter().map(|(n, s)| (n.to_string(), s)).collect();
        assert_eq!(weights, want);
        // The depthwise kernel is drawn from Keras' Glorot limit for its shape [3, 3, 4, 2].
        let limit = (6.0f32 / (36.0 + 18.0)).sqrt();
        assert!(g.weights()[0].value.data().iter().all(|v| v.abs() <= limit));
    }

    #[test]
    fn bad_options_and_shapes_are_typed_errors() {
        let err = |class: &str, v: Json| registry::create(class, &v).err().unwrap();
        let e = err("DepthwiseConv2D", json!({ "kernelSize": 3, "strides": 2, "dilationRate": 2 }));
        assert_eq!(e.kind, ErrorKind::Argument);
        assert!(
            e.message.starts_with("DepthwiseConv2D: options 'strides' (2, 2) and 'dilationRate' (2, 2)"),
            "{}",
            e.message
        );
        let e = err("Conv2D", json!({ "filters": 2, "kernelSize": 3, "strides": [1, 2], "dilationRate": [2, 1] }));
        assert_eq!(e.kind, ErrorKind::Argument);
        assert!(e.message.contains("'strides' (1, 2) and 'dilationRate' (2, 1)"), "{}", e.message);
        let e = err("SeparableConv2D", json!({ "filters": 2, "kernelSize": 3, "depthMultiplier": 0, "name": "s" }));
        assert_eq!(e.message, "layer 's' (SeparableConv2D): option 'depthMultiplier' must be at least 1");
        let e = err("SeparableConv2D", json!({ "kernelSize": 3 }));
        assert!(e.message.contains("option 'filters' is required"), "{}", e.message);
        let e = err("DepthwiseConv2D", json!({ "kernelSize": 3, "dilationRate": [1, 0] }));
        assert!(
            e.message.contains("option 'dilationRate' must be a positive integer or a pair of them"),
            "{}",
            e.message
        );
        let e = err("DepthwiseConv2D", json!({ "kernelSize": 3, "filters": 4 }));
        assert!(e.message.contains("unknown option 'filters'"), "{}", e.message);

        let rng = &mut Rng::new(0);
        let mut g = Graph::new();
        let x = g.add(layer("InputLayer", json!({ "shape": [5, 6, 3] })), &[], rng).unwrap();
        let e = g.add(layer("DepthwiseConv2D", json!({ "kernelSize": 3, "dilationRate": 3 })), &[x], rng).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(
            e.message,
            "layer 'depthwise_conv2d' (DepthwiseConv2D): depthwise_conv2d: kernel 3x3 with dilationRate (3, 3) spans \
             7x7, larger than the input 5x6 with valid padding (input shape [1, 5, 6, 3])"
        );
        // "same" padding fits any kernel, as in TensorFlow.
        let same = json!({ "filters": 2, "kernelSize": 3, "dilationRate": 3, "padding": "same" });
        assert!(g.add(layer("SeparableConv2D", same), &[x], rng).is_ok());
        let e = g.add(layer("SeparableConv2D", json!({ "filters": 2, "kernelSize": 7 })), &[x], rng).unwrap_err();
        assert!(
            e.message
                .starts_with("layer 'separable_conv2d_1' (SeparableConv2D): separable_conv2d: kernel 7x7 is larger"),
            "{}",
            e.message
        );
        let e = g.add(layer("Conv2D", json!({ "filters": 4, "kernelSize": 1, "groups": 2 })), &[x], rng).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
        assert_eq!(
            e.message,
            "layer 'conv2d' (Conv2D): input channels 3 (input [batch, 5, 6, 3]) are not divisible by option 'groups' (2)"
        );
    }

    #[test]
    fn bn_folds_into_a_dilated_grouped_conv2d() {
        let rng = &mut Rng::new(2);
        let mut g = Graph::new();
        let x = g.add(layer("InputLayer", json!({ "shape": [7, 7, 4] })), &[], rng).unwrap();
        let conv = json!({ "filters": 6, "kernelSize": 3, "padding": "same", "dilationRate": 2, "groups": 2 });
        let h = g.add(layer("Conv2D", conv), &[x], rng).unwrap();
        let h = g.add(layer("BatchNormalization", json!({})), &[h], rng).unwrap();
        g.set_outputs(&[h]).unwrap();
        // Statistics away from their defaults.
        for p in g.weights_mut() {
            if p.name.contains("moving") || p.name.contains("gamma") {
                p.value.data_mut().iter_mut().enumerate().for_each(|(i, v)| *v = 0.5 + 0.25 * (i % 3) as f32);
            }
        }
        let x = normal(&[3, 7, 7, 4], 3, 1.0, 0.0);
        let before = crate::model::predict(&mut g, &x).unwrap();
        assert_eq!(crate::graph::fold_batch_norm(&mut g).unwrap(), ["batch_normalization"]);
        let after = crate::model::predict(&mut g, &x).unwrap();
        for (a, b) in after.data().iter().zip(before.data()) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-1), "{a} vs {b}");
        }
    }

    /// A small MobileNet-style network: conv, then depthwise-separable blocks, pooled.
    fn mobilenet_like() -> Graph {
        let rng = &mut Rng::new(5);
        let mut g = Graph::new();
        let mut h = g.add(layer("InputLayer", json!({ "shape": [8, 8, 2] })), &[], rng).unwrap();
        let stack = [
            ("Conv2D", json!({ "filters": 8, "kernelSize": 3, "strides": 2, "padding": "same", "useBias": false })),
            ("BatchNormalization", json!({})),
            ("Activation", json!({ "activation": "relu" })),
            ("DepthwiseConv2D", json!({ "kernelSize": 3, "padding": "same", "useBias": false })),
            ("BatchNormalization", json!({})),
            ("Activation", json!({ "activation": "relu" })),
            ("Conv2D", json!({ "filters": 12, "kernelSize": 1, "activation": "relu" })),
            (
                "SeparableConv2D",
                json!({ "filters": 12, "kernelSize": 3, "padding": "same", "dilationRate": 2,
                                        "depthMultiplier": 2, "activation": "relu" }),
            ),
            ("GlobalAveragePooling2D", json!({})),
            ("Dense", json!({ "units": 3, "activation": "softmax" })),
        ];
        for (class, options) in stack {
            h = g.add(layer(class, options), &[h], rng).unwrap();
        }
        g.set_outputs(&[h]).unwrap();
        g
    }

    #[test]
    fn a_depthwise_separable_network_learns_and_round_trips() {
        let adam = Box::new(Adam::new(1e-2, 0.9, 0.999, 1e-7).unwrap());
        let mut model = Model::new(mobilenet_like(), Loss::parse("categoricalCrossentropy").unwrap(), adam, 1).unwrap();
        let x = normal(&[24, 8, 8, 2], 7, 1.0, 0.0);
        let labels: Vec<u32> = (0..24).map(|i| i % 3).collect();
        // The class moves the mean of the first channel.
        let mut x = x;
        for (i, px) in x.data_mut().chunks_exact_mut(2).enumerate() {
            px[0] += labels[i / 64] as f32;
        }
        let y = crate::data::one_hot(&labels, 3).unwrap();
        let first = model.train_step(&x, &y, None).unwrap().loss;
        let mut last = first;
        for _ in 0..30 {
            last = model.train_step(&x, &y, None).unwrap().loss;
        }
        assert!(last < first * 0.5, "loss {first} -> {last}");
        // The saved spec rebuilds the same architecture; with the weights, the same outputs.
        let spec = model.net.to_spec();
        let mut again = Graph::from_spec(&spec, &mut Rng::new(9)).unwrap();
        assert_eq!(again.to_spec(), spec);
        for (dst, src) in again.weights_mut().into_iter().zip(model.net.weights()) {
            dst.value = src.value.clone();
        }
        let want = model.predict(&x).unwrap();
        let got = crate::model::predict(&mut again, &x).unwrap();
        assert_eq!(got, want);
    }
}
