"""The MJCF of a WidowX 250 6-DOF arm on a table, generated from public kinematic facts.

Joint origins, axes and limits follow the published wx250s description (Interbotix): base to
shoulder 0.072 + 0.03865 m, upper arm 0.25 m up and 0.04975 m forward, forearm 0.175 + 0.075 m,
wrist to gripper 0.065 m, gripper to fingertip centre 0.0936 m, fingers 15-37 mm from the centre
each (a 30-74 mm opening). Links are drawn with primitives (no meshes), so nothing is loaded
from disk. The world frame sits at the robot base on the table top: x forward, y left, z up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TIMESTEP = 0.002  # [s] physics step
ARM_JOINTS = ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate')
# [rad] lower/upper limits of the wx250s joints.
JOINT_LIMITS = {
    'waist': (-3.14158, 3.14158),
    'shoulder': (-1.88496, 1.98968),
    'elbow': (-2.14675, 1.60570),
    'forearm_roll': (-3.14158, 3.14158),
    'wrist_angle': (-1.74533, 2.14675),
    'wrist_rotate': (-3.14158, 3.14158),
}
FINGER_RANGE = (0.015, 0.037)  # [m] each finger from the gripper centre line
SHOULDER_HEIGHT = 0.072 + 0.03865
UPPER_ARM = (0.04975, 0.25)  # forward, up [m]
FOREARM = 0.175 + 0.075
WRIST_TO_GRIPPER = 0.065
GRIPPER_TO_TIP = 0.043 + 0.023 + 0.027575  # gripper_link -> ee_gripper_link
TABLE_TOP = 0.0
# Joint angles of the "ready" pose: gripper pointing down above the table centre.
HOME_QPOS = np.array([0.0, -0.30, 0.55, 0.0, 1.32, 0.0])

_ARM_RGBA = '0.12 0.12 0.13 1'


@dataclass(frozen=True)
class ObjectModel:
    """How one tabletop object is drawn and whether it moves."""

    name: str
    geoms: str  # MJCF geoms in the body frame
    rest_height: float  # [m] height of the body origin above the table when resting
    half_width: float  # [m] half the width the fingers close on
    movable: bool = True


# Geoms in this group take the object's colour of the scene (World.paint at each reset).
PAINT_GROUP = 2


def _geom(kind: str, size: str, rgba: str, pos: str = '0 0 0', euler: str = '0 0 0', collide: bool = True,
          mass: float | None = None, paint: bool = False) -> str:
    contact = '' if collide else ' contype="0" conaffinity="0"'
    weight = '' if mass is None else f' mass="{mass}"'
    group = f' group="{PAINT_GROUP}"' if paint else ''
    return (f'<geom type="{kind}" size="{size}" rgba="{rgba}" pos="{pos}" euler="{euler}"'
            f'{contact}{weight}{group}/>')


def _pot_geoms(paint: bool = False) -> str:
    parts = [_geom('cylinder', '0.062 0.004', '0.45 0.46 0.48 1', pos='0 0 0.004', paint=paint)]
    walls = 10
    for i in range(walls):
        angle = 2 * np.pi * i / walls
        x, y = 0.06 * np.cos(angle), 0.06 * np.sin(angle)
        parts.append(_geom('box', '0.004 0.02 0.032', '0.55 0.56 0.58 1', pos=f'{x:.4f} {y:.4f} 0.036',
                           euler=f'0 0 {angle:.4f}', paint=paint))
    parts.append(_geom('box', '0.025 0.008 0.004', '0.2 0.2 0.2 1', pos='0 0.075 0.06', collide=False))
    parts.append(_geom('box', '0.025 0.008 0.004', '0.2 0.2 0.2 1', pos='0 -0.075 0.06', collide=False))
    return ''.join(parts)


def _bowl_geoms(radius: float) -> str:
    parts = [_geom('cylinder', f'{radius + 0.002:.3f} 0.003', '0.9 0.9 0.9 1', pos='0 0 0.003', paint=True)]
    walls = 12
    for i in range(walls):
        angle = 2 * np.pi * i / walls
        x, y = radius * np.cos(angle), radius * np.sin(angle)
        half_length = radius * np.pi / walls + 0.002
        parts.append(_geom('box', f'0.004 {half_length:.4f} 0.014', '0.9 0.9 0.9 1', pos=f'{x:.4f} {y:.4f} 0.017',
                           euler=f'0 0 {angle:.4f}', paint=True))
    return ''.join(parts)


def _toy_geoms() -> str:
    # A plush animal: body and head drawn soft, colliding as one box so it rests still.
    return (_geom('ellipsoid', '0.022 0.019 0.018', '0.8 0.8 0.8 1', collide=False, paint=True)
            + _geom('sphere', '0.014', '0.8 0.8 0.8 1', pos='0.012 0 0.022', collide=False, paint=True)
            + _geom('sphere', '0.005', '0.1 0.1 0.1 1', pos='0.024 0.006 0.026', collide=False)
            + _geom('box', '0.02 0.018 0.018', '0 0 0 0', mass=0.04))


def _can_geoms() -> str:
    # A short food can: a painted body under a metal lid.
    return (_geom('cylinder', '0.019 0.02', '0.8 0.8 0.8 1', mass=0.05, paint=True)
            + _geom('cylinder', '0.018 0.002', '0.74 0.75 0.78 1', pos='0 0 0.021', collide=False))


OBJECTS = {
    'hammer': ObjectModel('hammer', _geom('box', '0.07 0.011 0.011', '0.55 0.33 0.16 1', mass=0.08)
                          + _geom('box', '0.013 0.032 0.014', '0.5 0.5 0.53 1', pos='0.07 0 0.003', mass=0.06),
                          rest_height=0.011, half_width=0.011),
    'mushroom': ObjectModel('mushroom', _geom('cylinder', '0.011 0.014', '0.93 0.9 0.82 1', pos='0 0 0')
                            + _geom('ellipsoid', '0.026 0.026 0.013', '0.62 0.45 0.3 1', pos='0 0 0.016'),
                            rest_height=0.014, half_width=0.012),
    # Round parts are drawn as capsules but collide as boxes, so they do not roll away.
    'spoon': ObjectModel('spoon', _geom('capsule', '0.006 0.05', '0.78 0.79 0.82 1', euler='0 1.5708 0',
                                        collide=False)
                         + _geom('box', '0.05 0.006 0.006', '0 0 0 0', mass=0.03)
                         + _geom('ellipsoid', '0.022 0.015 0.007', '0.78 0.79 0.82 1', pos='0.065 0 0.001'),
                         rest_height=0.007, half_width=0.008),
    'plate': ObjectModel('plate', _geom('cylinder', '0.066 0.006', '0.95 0.95 0.93 1'), rest_height=0.006,
                         half_width=0.066, movable=False),
    'pot': ObjectModel('pot', _pot_geoms(paint=True), rest_height=0.0, half_width=0.06, movable=False),
    'sushi': ObjectModel('sushi', _geom('box', '0.024 0.014 0.011', '0.97 0.96 0.92 1')
                         + _geom('box', '0.026 0.015 0.004', '0.98 0.45 0.25 1', pos='0 0 0.014'),
                         rest_height=0.011, half_width=0.014),
    'towel': ObjectModel('towel', _geom('box', '0.072 0.056 0.003', '0.2 0.35 0.75 1'), rest_height=0.003,
                         half_width=0.056, movable=False),
    'carrot': ObjectModel('carrot', _geom('capsule', '0.012 0.045', '0.95 0.45 0.08 1', euler='0 1.5708 0',
                                          collide=False)
                          + _geom('box', '0.05 0.011 0.011', '0 0 0 0', mass=0.05)
                          + _geom('box', '0.012 0.008 0.004', '0.2 0.6 0.2 1', pos='-0.063 0 0.0',
                                  collide=False),
                          rest_height=0.012, half_width=0.012),
    'cube': ObjectModel('cube', _geom('box', '0.018 0.018 0.018', '0.85 0.12 0.12 1', mass=0.05),
                        rest_height=0.018, half_width=0.018),
    # Objects of the paper's four tasks. The painted ones change colour per scene (see World.paint).
    'banana': ObjectModel('banana', _geom('capsule', '0.012 0.045', '0.95 0.85 0.2 1', euler='0 1.5708 0.25',
                                          collide=False)
                          + _geom('box', '0.05 0.011 0.011', '0 0 0 0', mass=0.05)
                          + _geom('box', '0.006 0.006 0.006', '0.35 0.3 0.1 1', pos='0.058 0.012 0.0', collide=False),
                          rest_height=0.012, half_width=0.012),
    'pot_b': ObjectModel('pot_b', _pot_geoms(paint=True), rest_height=0.0, half_width=0.06, movable=False),
    'bowl_large': ObjectModel('bowl_large', _bowl_geoms(0.062), rest_height=0.0, half_width=0.062, movable=False),
    'bowl_small': ObjectModel('bowl_small', _bowl_geoms(0.044), rest_height=0.0, half_width=0.044, movable=False),
    'toy_a': ObjectModel('toy_a', _toy_geoms(), rest_height=0.018, half_width=0.018),
    'toy_b': ObjectModel('toy_b', _toy_geoms(), rest_height=0.018, half_width=0.018),
    'lid': ObjectModel('lid', _geom('cylinder', '0.05 0.004', '0.55 0.56 0.58 1', mass=0.06)
                       + _geom('cylinder', '0.011 0.007', '0.15 0.15 0.15 1', pos='0 0 0.011', mass=0.01),
                       rest_height=0.004, half_width=0.011),
    # Objects of the held-out paper-style tasks (issue 18): kinds that appear in no calibration task.
    'corn': ObjectModel('corn', _geom('capsule', '0.013 0.042', '0.93 0.82 0.25 1', euler='0 1.5708 0',
                                      collide=False)
                        + _geom('box', '0.048 0.012 0.012', '0 0 0 0', mass=0.05)
                        + _geom('box', '0.014 0.01 0.004', '0.3 0.6 0.2 1', pos='-0.055 0 0.0', collide=False),
                        rest_height=0.013, half_width=0.012),
    'pan': ObjectModel('pan', _bowl_geoms(0.056).replace('0.9 0.9 0.9 1', '0.16 0.16 0.17 1')
                       + _geom('box', '0.045 0.008 0.004', '0.16 0.16 0.17 1', pos='0.1 0 0.03', collide=False),
                       rest_height=0.0, half_width=0.056, movable=False),
    'sponge': ObjectModel('sponge', _geom('box', '0.026 0.018 0.009', '0.93 0.84 0.22 1', mass=0.03)
                          + _geom('box', '0.026 0.018 0.003', '0.23 0.63 0.26 1', pos='0 0 0.012', mass=0.005),
                          rest_height=0.009, half_width=0.018),
    'potato': ObjectModel('potato', _geom('ellipsoid', '0.026 0.019 0.016', '0.58 0.40 0.25 1', collide=False)
                          + _geom('box', '0.022 0.017 0.015', '0 0 0 0', mass=0.05),
                          rest_height=0.015, half_width=0.017),
    'can_a': ObjectModel('can_a', _can_geoms(), rest_height=0.022, half_width=0.019),
    'can_b': ObjectModel('can_b', _can_geoms(), rest_height=0.022, half_width=0.019),
    'dish_large': ObjectModel('dish_large', _geom('cylinder', '0.062 0.005', '0.9 0.9 0.9 1', paint=True),
                              rest_height=0.005, half_width=0.062, movable=False),
    'dish_small': ObjectModel('dish_small', _geom('cylinder', '0.042 0.005', '0.9 0.9 0.9 1', paint=True),
                              rest_height=0.005, half_width=0.042, movable=False),
}
# Colours a painted object can take (RGB); the names are the words a VLM and the VLA use.
PAINT_COLOURS = {
    'silver': (0.74, 0.75, 0.78), 'red': (0.82, 0.16, 0.13), 'blue': (0.2, 0.36, 0.85),
    'white': (0.96, 0.96, 0.94), 'pink': (0.96, 0.56, 0.72), 'green': (0.22, 0.66, 0.26),
    'yellow': (0.93, 0.82, 0.2), 'orange': (0.95, 0.48, 0.14),
}

# Over-the-shoulder camera like Bridge V2's: behind and beside the base, looking at the table.
CAMERA_POS = np.array([-0.05, -0.38, 0.5])
CAMERA_TARGET = np.array([0.30, 0.02, 0.0])


def _camera_xyaxes() -> str:
    forward = CAMERA_TARGET - CAMERA_POS
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return ' '.join(f'{v:.5f}' for v in (*right, *up))


def _arm_xml() -> str:
    lim = {name: f'{lo:.5f} {hi:.5f}' for name, (lo, hi) in JOINT_LIMITS.items()}
    fingers = f'{FINGER_RANGE[0]} {FINGER_RANGE[1]}'
    # gravcomp: the real arm's servos hold the links up; the position actuators only track.
    return f'''
<body name="base_link" pos="0 0 0">
  <geom type="box" size="0.06 0.06 0.036" pos="0 0 0.036" rgba="{_ARM_RGBA}" contype="0" conaffinity="0"/>
  <body name="shoulder_link" pos="0 0 0.072" gravcomp="1">
    <joint name="waist" axis="0 0 1" range="{lim['waist']}"/>
    <geom type="cylinder" size="0.035 0.02" pos="0 0 0.015" rgba="{_ARM_RGBA}" mass="0.48"/>
    <body name="upper_arm_link" pos="0 0 0.03865" gravcomp="1">
      <joint name="shoulder" axis="0 1 0" range="{lim['shoulder']}"/>
      <geom type="capsule" fromto="0 0 0 0.04975 0 0.25" size="0.022" rgba="{_ARM_RGBA}" mass="0.43"/>
      <body name="upper_forearm_link" pos="0.04975 0 0.25" gravcomp="1">
        <joint name="elbow" axis="0 1 0" range="{lim['elbow']}"/>
        <geom type="capsule" fromto="0 0 0 0.175 0 0" size="0.02" rgba="{_ARM_RGBA}" mass="0.23"/>
        <body name="lower_forearm_link" pos="0.175 0 0" gravcomp="1">
          <joint name="forearm_roll" axis="1 0 0" range="{lim['forearm_roll']}"/>
          <geom type="capsule" fromto="0 0 0 0.075 0 0" size="0.017" rgba="0.2 0.2 0.22 1" mass="0.22"/>
          <body name="wrist_link" pos="0.075 0 0" gravcomp="1">
            <joint name="wrist_angle" axis="0 1 0" range="{lim['wrist_angle']}"/>
            <geom type="capsule" fromto="0 0 0 0.065 0 0" size="0.016" rgba="{_ARM_RGBA}" mass="0.085"/>
            <body name="gripper_link" pos="0.065 0 0" gravcomp="1">
              <joint name="wrist_rotate" axis="1 0 0" range="{lim['wrist_rotate']}"/>
              <geom type="box" size="0.022 0.04 0.012" pos="0.045 0 0" rgba="{_ARM_RGBA}" mass="0.1"/>
              <site name="ee" pos="{GRIPPER_TO_TIP:.5f} 0 0" size="0.005" rgba="1 0 0 0"/>
              <body name="left_finger" pos="0.066 0 0" gravcomp="1">
                <joint name="left_finger" type="slide" axis="0 1 0" range="{fingers}"/>
                <geom type="box" size="0.02 0.004 0.01" pos="0.022 0.004 0" rgba="0.3 0.3 0.32 1" mass="0.016"/>
              </body>
              <body name="right_finger" pos="0.066 0 0" gravcomp="1">
                <joint name="right_finger" type="slide" axis="0 -1 0" range="{fingers}"/>
                <geom type="box" size="0.02 0.004 0.01" pos="0.022 -0.004 0" rgba="0.3 0.3 0.32 1"
                      mass="0.016"/>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>
  </body>
</body>'''


def build_mjcf(objects: tuple[str, ...]) -> str:
    """Return the MJCF text of the arm, the table and the named objects (bodies named after them)."""
    unknown = [name for name in objects if name not in OBJECTS]
    if unknown:
        raise ValueError(f'unknown objects {unknown}; available: {sorted(OBJECTS)}')
    bodies, welds = [], []
    for name in objects:
        obj = OBJECTS[name]
        # Containers are mocap bodies: fixed during an episode, placed by each scene reset.
        joint = f'<freejoint name="{name}_free"/>' if obj.movable else ''
        mocap = '' if obj.movable else ' mocap="true"'
        bodies.append(f'<body name="{name}" pos="0.3 0 {obj.rest_height}"{mocap}>{joint}{obj.geoms}</body>')
        if obj.movable:
            welds.append(f'<weld name="grasp_{name}" body1="gripper_link" body2="{name}" active="false"/>')
    actuators = ''.join(
        f'<position name="{j}" joint="{j}" kp="{kp}" dampratio="1" ctrlrange="{lo:.5f} {hi:.5f}"/>'
        for j, kp in zip(ARM_JOINTS, (60, 80, 60, 15, 15, 10)) for lo, hi in [JOINT_LIMITS[j]])
    actuators += ''.join(
        f'<position name="{f}" joint="{f}" kp="200" dampratio="1" ctrlrange="{FINGER_RANGE[0]} {FINGER_RANGE[1]}"/>'
        for f in ('left_finger', 'right_finger'))
    # Arm links do not collide (contype 0 for every arm geom): contact between the arm and the
    # scene is out of scope, and leaving it out keeps a control step cheap.
    return f'''<mujoco model="widowx250s_tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP}" integrator="Euler" cone="pyramidal" iterations="20" ls_iterations="10"
          sleep_tolerance="1e-3">
    <flag sleep="enable"/>
  </option>
  <visual><global offwidth="640" offheight="640"/><quality shadowsize="1024"/></visual>
  <default>
    <joint armature="0.02" damping="0.5"/>
    <geom friction="1.0 0.01 0.001" solref="0.004 1"/>
    <default class="arm"><geom contype="0" conaffinity="0"/></default>
  </default>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.62 0.52 0.40" rgb2="0.60 0.50 0.38"
             width="256" height="256"/>
    <material name="table" texture="grid" texrepeat="6 6"/>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.55 0.57 0.6" rgb2="0.25 0.26 0.28"
             width="32" height="32"/>
  </asset>
  <worldbody>
    <light pos="0.2 -0.3 1.2" dir="0 0.2 -1" diffuse="0.8 0.8 0.8"/>
    <light pos="-0.3 0.4 1.0" dir="0.3 -0.3 -1" diffuse="0.35 0.35 0.35" castshadow="false"/>
    <geom name="table" type="plane" size="0.6 0.5 0.01" pos="0.25 0 0" material="table"/>
    <camera name="over_shoulder" pos="{' '.join(f'{v:.4f}' for v in CAMERA_POS)}" xyaxes="{_camera_xyaxes()}"
            fovy="55"/>
    {_arm_xml().replace('<geom ', '<geom class="arm" ')}
    {''.join(bodies)}
  </worldbody>
  <equality>{''.join(welds)}</equality>
  <actuator>{actuators}</actuator>
</mujoco>'''
