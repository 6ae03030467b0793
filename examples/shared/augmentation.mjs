// The augmentation the Fashion-MNIST examples train with when asked (`--augment`): Keras'
// preprocessing layers at the model's input, active in training only.
import { layers } from 'ballast';

/**
 * Random left-right flips and shifts of up to 10% of the size each way (about the "pad 4 and
 * crop" of CIFAR training on 28x28 images), edges reflected. Clothes stay clothes when
 * mirrored; they are not rotated, since Fashion-MNIST's items are all upright.
 */
export function augment(input) {
  const shifted = layers.randomTranslation({ heightFactor: 0.1, widthFactor: 0.1, name: 'augment_shift' }).apply(input);
  return layers.randomFlip({ mode: 'horizontal', name: 'augment_flip' }).apply(shifted);
}
