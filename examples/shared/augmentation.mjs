// The augmentations the examples train with when asked (`--augment`): Keras' preprocessing
// layers at the model's input, active in training only. Each returns fresh layers.
import { layers } from 'ballast';

export const augmentations = {
  /**
   * Fashion-MNIST: random left-right flips and shifts of up to 10% of the size each way
   * (about the "pad 4 and crop" of CIFAR training, on 28x28 images), edges reflected.
   * Clothes stay clothes when mirrored; they are not rotated, since the items are upright.
   */
  fashion: () => [
    layers.randomTranslation({ heightFactor: 0.1, widthFactor: 0.1, name: 'augment_shift' }),
    layers.randomFlip({ mode: 'horizontal', name: 'augment_flip' }),
  ],
  /**
   * Digits: shifts of up to 10% and rotations of up to ±18° (0.05 of a turn), the border
   * filled with the background (0) since MNIST's digits sit on black. Never flipped.
   */
  digits: () => [
    layers.randomTranslation({ heightFactor: 0.1, widthFactor: 0.1, fillMode: 'constant', name: 'augment_shift' }),
    layers.randomRotation({ factor: 0.05, fillMode: 'constant', name: 'augment_rotate' }),
  ],
};

/** `input` through each augmentation layer in turn (the functional API). */
export function augment(input, kind = 'fashion') {
  return augmentations[kind]().reduce((x, layer) => layer.apply(x), input);
}
