import { describe, expect, it } from 'vitest';
import { trainingCurveSvg } from './curve-svg.js';

describe('trainingCurveSvg', () => {
  const points = [
    { epoch: 0, loss: 0.05, validationPsnr: 26.8 },
    { epoch: 1, loss: 0.04, validationPsnr: 27.6 },
    { epoch: 2, loss: 0.038, validationPsnr: 27.4 },
  ];

  it('plots both series over the epochs and rings the best validation epoch', () => {
    const svg = trainingCurveSvg(points, 'a <run>');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle [^>]*r="3"/g)).toHaveLength(6);
    expect(svg).toContain('best: epoch 2, 27.60 dB');
    expect(svg).toContain('a &lt;run&gt;');
    // The ring sits on the best point of the PSNR panel.
    const ring = /<circle cx="([\d.]+)" cy="([\d.]+)" r="7"/.exec(svg)!;
    expect(svg).toContain(`<circle cx="${ring[1]}" cy="${ring[2]}" r="3" fill="#d62728"/>`);
  });

  it('draws a single epoch as dots and refuses an empty history', () => {
    const svg = trainingCurveSvg(points.slice(0, 1), 'one');
    expect(svg).not.toContain('<polyline');
    expect(svg).not.toContain('NaN');
    expect(() => trainingCurveSvg([], 'none')).toThrow(/no epochs/);
  });
});
