//! Keras `Conv2DTranspose` on NHWC input; its kernel is `[kh, kw, filters, in_channels]`
//! (Keras' transpose layout: the output channels third).

use super::config::{layer_config, Json, Pair};
use super::{batch_shape, layer_common, one_input, Activation, Ctx, Initializer, Layer, LayerKind, Param, Regularizer};
use crate::autograd::Var;
use crate::error::Error;
use crate::kernels::conv::{ConvOptions, Padding};
use crate::ops;
use crate::rng::Rng;
use crate::Result;

layer_config! {
    pub struct Conv2dTransposeConfig {
        filters "filters": usize,
        kernel_size "kernelSize": Pair,
        strides "strides": Pair = Pair(1, 1),
        /// "valid": output `(in − 1)·s + k` (`in·s` when `k < s`); "same": `in·s`.
        padding "padding": Padding = Padding::Valid,
        /// Taps `dilation_rate` apart; above 1 only with strides 1 (as in Keras).
        dilation_rate "dilationRate": Pair = Pair(1, 1),
        activation "activation": Activation = Activation::Linear,
        use_bias "useBias": bool = true,
        kernel_initializer "kernelInitializer": Initializer = Initializer::GlorotUniform,
        bias_initializer "biasInitializer": Initializer = Initializer::Zeros,
        kernel_regularizer "kernelRegularizer": Option<Regularizer> = None,
        bias_regularizer "biasRegularizer": Option<Regularizer> = None,
    }
}

impl Conv2dTransposeConfig {
    /// Strides, padding and dilation, as the op takes them.
    pub fn options(&self) -> ConvOptions {
        ConvOptions::new(self.strides.tuple(), self.padding).dilation(self.dilation_rate.tuple())
    }
}

pub(super) const KINDS: &[LayerKind] = &[LayerKind {
    class_name: "Conv2DTranspose",
    default_name: "conv2d_transpose",
    make: |c| Ok(Box::new(Conv2dTranspose::new(Conv2dTransposeConfig::from_json(c)?)?)),
}];

#[derive(Clone)]
pub struct Conv2dTranspose {
    name: String,
    trainable: bool,
    pub config: Conv2dTransposeConfig,
    weights: Vec<Param>,
}

impl Conv2dTranspose {
    pub fn new(config: Conv2dTransposeConfig) -> Result<Self> {
        if config.filters == 0 {
            return Err(Error::argument("filters must be at least 1"));
        }
        config.options().check_strides_and_dilation()?;
        Ok(Conv2dTranspose { name: String::new(), trainable: true, config, weights: Vec::new() })
    }
}

impl Layer for Conv2dTranspose {
    layer_common!("Conv2DTranspose");

    fn config(&self) -> Json {
        self.config.to_json()
    }

    fn output_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>> {
        let input = one_input(inputs)?;
        if input.len() != 3 {
            return Err(Error::shape(format!(
                "expects input [batch, height, width, channels], got {}",
                batch_shape(input)
            )));
        }
        let c = self.config;
        // A batch of one checks the geometry (sizes, overflow) once, here.
        let g = ops::conv::conv2d_transpose_geometry(
            "conv2d_transpose",
            &[1, input[0], input[1], input[2]],
            c.kernel_size.tuple(),
            c.filters,
            c.options(),
        )?;
        Ok(vec![g.in_h, g.in_w, c.filters])
    }

    fn build(&mut self, inputs: &[&[usize]], rng: &mut Rng) -> Result<()> {
        let c = self.config;
        let in_c = inputs[0][2];
        let Pair(kh, kw) = c.kernel_size;
        // Keras reads the fans off the kernel's last two axes: in = filters, out = in_c.
        let fans = (kh * kw * c.filters, kh * kw * in_c);
        self.weights =
            vec![Param::new(&self.name, "kernel", c.kernel_initializer.init(&[kh, kw, c.filters, in_c], fans, rng)?)];
        if c.use_bias {
            self.weights.push(Param::new(&self.name, "bias", c.bias_initializer.init(&[c.filters], fans, rng)?));
        }
        Ok(())
    }

    fn forward(&mut self, ctx: &mut Ctx, inputs: &[Var], params: &[Var]) -> Result<Var> {
        let c = self.config;
        let y = ops::conv::conv2d_transpose(ctx.tape, inputs[0], params[0], params.get(1).copied(), c.options())?;
        c.activation.apply(ctx, y)
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.iter().collect()
    }
    fn regularizers(&self) -> Vec<Option<Regularizer>> {
        [self.config.kernel_regularizer, self.config.bias_regularizer].into_iter().take(self.weights.len()).collect()
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
    use super::super::registry;
    use super::super::tests::check_layer;
    use super::*;
    use crate::autograd::gradcheck::Check;
    use crate::ErrorKind;
    use serde_json::json;

    fn layer(options: Json) -> Result<Box<dyn Layer>> {
        registry::create("Conv2DTranspose", &options)
    }

    #[test]
    fn config_defaults_shapes_and_weights() {
        let mut l = layer(json!({ "filters": 4, "kernelSize": 3 })).unwrap();
        let c = l.config();
        assert_eq!(c["strides"], json!([1, 1]));
        assert_eq!(c["padding"], json!("valid"));
        assert_eq!(c["dilationRate"], json!([1, 1]));
        assert_eq!(c["useBias"], json!(true));
        assert_eq!(c["kernelRegularizer"], Json::Null);
        assert_eq!(l.output_shape(&[&[5, 6, 2]]).unwrap(), [7, 8, 4]);
        l.set_name("up".into());
        l.build_on(&[5, 6, 2], &mut Rng::new(1)).unwrap();
        let weights: Vec<(&str, &[usize])> = l.params().iter().map(|p| (p.name.as_str(), p.value.shape())).collect();
        assert_eq!(weights, [("up/kernel", &[3, 3, 4, 2][..]), ("up/bias", &[4][..])]);
        assert_eq!(registry::find("Conv2DTranspose").unwrap().default_name, "conv2d_transpose");

        let same = layer(json!({ "filters": 1, "kernelSize": [3, 2], "strides": 2, "padding": "same" })).unwrap();
        assert_eq!(same.output_shape(&[&[5, 6, 2]]).unwrap(), [10, 12, 1]);
        let small_kernel = layer(json!({ "filters": 1, "kernelSize": 2, "strides": 3 })).unwrap();
        assert_eq!(small_kernel.output_shape(&[&[5, 6, 2]]).unwrap(), [15, 18, 1]);
        let dilated = layer(json!({ "filters": 1, "kernelSize": 3, "dilationRate": 2 })).unwrap();
        assert_eq!(dilated.output_shape(&[&[5, 6, 2]]).unwrap(), [9, 10, 1]);
    }

    #[test]
    fn regularizers_follow_the_weights() {
        let options = json!({ "filters": 2, "kernelSize": 2, "kernelRegularizer": "l2", "biasRegularizer": "l1" });
        let mut l = layer(options).unwrap();
        l.build_on(&[3, 3, 1], &mut Rng::new(1)).unwrap();
        let kinds: Vec<_> = l.regularizers().iter().map(|r| r.map(|r| r.kind)).collect();
        use crate::nn::regularizer::RegularizerKind::{L1, L2};
        assert_eq!(kinds, [Some(L2), Some(L1)]);
        let mut no_bias =
            layer(json!({ "filters": 2, "kernelSize": 2, "useBias": false, "biasRegularizer": "l1" })).unwrap();
        no_bias.build_on(&[3, 3, 1], &mut Rng::new(1)).unwrap();
        assert_eq!(no_bias.params().len(), 1);
        assert_eq!(no_bias.regularizers().len(), 1);
    }

    #[test]
    fn bad_options_and_inputs_are_typed_errors() {
        let e = layer(json!({ "filters": 2, "kernelSize": 3, "strides": 2, "dilationRate": 2 })).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Argument);
        assert!(e.message.starts_with("Conv2DTranspose: ") && e.message.contains("'dilationRate'"), "{}", e.message);
        let e = layer(json!({ "filters": 0, "kernelSize": 3 })).err().unwrap();
        assert!(e.kind == ErrorKind::Argument && e.message.contains("filters"), "{}", e.message);
        let e = layer(json!({ "filters": 2, "kernelSize": 0 })).err().unwrap();
        assert!(e.kind == ErrorKind::Argument && e.message.contains("kernelSize"), "{}", e.message);
        let e = layer(json!({ "filters": 2, "kernelSize": 3, "padding": "full" })).err().unwrap();
        assert!(e.kind == ErrorKind::Argument && e.message.contains("padding"), "{}", e.message);
        let e = layer(json!({ "filters": 2, "kernelSize": 3, "outputPadding": 1 })).err().unwrap();
        assert!(e.kind == ErrorKind::Argument && e.message.contains("outputPadding"), "{}", e.message);
        let l = layer(json!({ "filters": 2, "kernelSize": 3 })).unwrap();
        let e = l.output_shape(&[&[5, 6]]).unwrap_err();
        assert!(e.kind == ErrorKind::Shape && e.message.contains("[batch, 5, 6]"), "{}", e.message);
        let e = l.output_shape(&[&[usize::MAX / 2, 6, 1]]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape);
    }

    #[test]
    fn layer_passes_a_gradient_check() {
        let check = Check::default();
        for (strides, padding, activation) in [(1, "valid", "tanh"), (2, "same", "sigmoid"), (2, "valid", "linear")] {
            let options = json!({ "filters": 3, "kernelSize": [3, 2], "strides": strides, "padding": padding,
                                  "activation": activation, "biasInitializer": "glorotUniform" });
            check_layer(
                &format!("conv2d_transpose {padding} s{strides}"),
                layer(options).unwrap(),
                &[2, 3, 4, 2],
                true,
                &check,
            );
        }
    }
}
